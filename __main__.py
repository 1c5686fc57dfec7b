"""``python -m docqet_monitor``: the same CLI as the ``docqet-monitor`` command."""

from docqet_monitor.cli import main

main(prog_name="docqet-monitor")
