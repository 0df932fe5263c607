"""Run one Procfile process by name (`python -m config.procfile worker`): containers start what `make run` starts."""
import os
import sys
from pathlib import Path

PROCFILE = Path(__file__).resolve().parent.parent / "Procfile"


def procfile_commands(path=PROCFILE):
    from honcho.environ import parse_procfile

    return dict(parse_procfile(path.read_text()).processes)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    commands = procfile_commands()
    if len(argv) != 1 or argv[0] not in commands:
        sys.stderr.write(f"usage: python -m config.procfile {{{'|'.join(commands)}}}\n")
        return 2
    os.chdir(PROCFILE.parent)
    # The shell expands ${VAR:-default} as in the Procfile; exec makes the program PID 1's direct child signal
    # target (docker stop sends SIGTERM to it: gunicorn drains, the Celery worker does a warm shutdown).
    os.execvp("sh", ["sh", "-c", "exec " + commands[argv[0]]])


if __name__ == "__main__":
    sys.exit(main())
