"""docs/OPERATIONS.md names every setting the code reads from the environment."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "OPERATIONS.md").read_text()
_SETTING = re.compile(r'env_[a-z_]+\(\s*"([A-Z][A-Z0-9_]*)"')
_PROCFILE_VARIABLE = re.compile(r"\$\{([A-Z][A-Z0-9_]*)")


def test_every_setting_of_the_settings_module_is_documented():
    names = set(_SETTING.findall((ROOT / "config" / "settings.py").read_text())) - {"TEST_DATABASE_NAME"}
    assert names, "no settings found: the pattern no longer matches config/settings.py"
    missing = sorted(name for name in names if f"`{name}`" not in DOC)
    assert not missing, f"add these to the settings table of docs/OPERATIONS.md: {missing}"


def test_every_procfile_variable_is_documented():
    names = set(_PROCFILE_VARIABLE.findall((ROOT / "Procfile").read_text()))
    missing = sorted(name for name in names if f"`{name}`" not in DOC and name not in ("LOG_LEVEL",))
    assert not missing, f"add these to docs/OPERATIONS.md: {missing}"
