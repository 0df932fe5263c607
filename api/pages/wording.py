"""Plain words for job errors, statuses and timeline entries, shown to people on the pages."""

ERROR_EXPLANATIONS = {
    "marathon_rejected": "Marathon refused the app definition. Its details below say which part it did not accept.",
    "marathon_unavailable": "Marathon could not be reached, even after several tries. It may be down or "
                            "restarting; try again later.",
    "marathon_unauthorized": "Marathon refused our credentials. An operator needs to check MARATHON_TOKEN.",
    "marathon_conflict": "Marathon is busy with another deployment of this app.",
    "marathon_not_found": "Marathon does not know this app (it may have been removed outside the catalog).",
    "marathon_error": "Marathon answered with an error.",
    "deadline_exceeded": "The app did not become ready in time. Its tasks kept failing or never passed their "
                         "health check; the last failure Marathon reported is below.",
    "deployment_failed": "Marathon gave up on the deployment.",
    "deployment_cancelled": "The deployment was cancelled on Marathon.",
    "app_gone": "The app was deleted from the catalog before the job could run.",
    "config_deleted": "The configuration was deleted before the job could run.",
    "not_deployable": "This app cannot be deployed as it is (it needs a container image).",
    "image_not_found": "The registry has no such image. Check the name and the tag.",
    "auth_required": "The registry wants credentials for this image, and none are configured.",
    "registry_unavailable": "The image registry could not be reached, even after several tries.",
    "registry_error": "The image registry answered with an error.",
    "digest_mismatch": "The image's data did not match its checksum, so it was not trusted.",
    "too_large": "The image's metadata is larger than the limit we read.",
    "invalid_manifest": "The registry sent an image description we could not read.",
    "invalid_reference": "That is not a valid image reference.",
    "duplicate_name": "An app with that name already exists. Import again with another name.",
}

STATUS_WORDS = {
    "queued": "Queued: waiting for a worker",
    "running": "Running: talking to Marathon",
    "waiting": "Waiting: Marathon is deploying",
    "succeeded": "Succeeded",
    "failed": "Failed",
    "cancelled": "Cancelled",
}

EVENT_WORDS = {
    "created": "Request recorded",
    "transition": "Status changed",
    "marathon_request": "Sent to Marathon",
    "marathon_accepted": "Marathon accepted",
    "marathon_error": "Marathon answered with an error",
    "marathon_rollback": "Rolled back on Marathon",
    "blocked": "Waiting for another job",
    "unblocked": "Started after the job before it",
    "cancel_requested": "Cancellation requested",
    "cancel_too_late": "Too late to cancel",
    "adopted": "Found already running",
    "lookup": "Image looked up",
    "registry_error": "Registry answered with an error",
}


def error_explanation(code):
    return ERROR_EXPLANATIONS.get(code or "", "The job did not complete.")


def status_words(status):
    return STATUS_WORDS.get(status, status)


def event_words(event):
    if event.type == "transition" and event.to_status:
        return f"{event.from_status or 'new'} → {event.to_status}"
    return EVENT_WORDS.get(event.type, event.type.replace("_", " ").capitalize())
