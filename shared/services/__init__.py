"""Services: every write and state change of the domain goes through here."""
