"""The README section: the routing tree as amtool shows it, and the inhibition matrix."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from relayops.alertmanager.inhibition import inhibit_rules, silencers
from relayops.alertmanager.labels import runtime_labels
from relayops.alertmanager.receivers import receiver_name
from relayops.alertmanager.template import TEMPLATE, TEMPLATE_PATH
from relayops.spec import SpecSet
from relayops.spec.durations import format_duration
from relayops.spec.service import SEVERITIES


def routes_show(config_text: str, amtool: str) -> str:
    """`amtool config routes show` of the config (with its template beside it)."""
    with tempfile.TemporaryDirectory(prefix="relayops-am-") as tmp:
        config = Path(tmp) / "alertmanager.yml"
        config.write_text(config_text, encoding="utf-8")
        template = Path(tmp) / TEMPLATE_PATH
        template.parent.mkdir(parents=True)
        template.write_text(TEMPLATE, encoding="utf-8")
        done = subprocess.run(
            [amtool, "config", "routes", "show", f"--config.file={config}"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
    return "\n".join(line.rstrip() for line in done.stdout.strip().splitlines())


def receiver_table(specs: SpecSet) -> str:
    service = specs.service
    rows = [
        "| Severity | Receiver | Destination | Resolved | group_by | group_wait | group_interval "
        "| repeat_interval |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for severity in SEVERITIES:
        r = service.receivers[severity]
        where = "PagerDuty Events API v2" if r.type == "pagerduty" else f"Slack `{r.channel}`"
        rows.append(
            f"| {severity} | `{receiver_name(service, severity)}` | {where} (secret from "
            f"`{r.secret_file}`) | {'yes' if r.send_resolved else 'no'} | "
            f"{', '.join(r.group_by)} | {format_duration(r.group_wait)} | "
            f"{format_duration(r.group_interval)} | {format_duration(r.repeat_interval)} |"
        )
    return "\n".join(rows)


def inhibition_matrix(specs: SpecSet) -> str:
    """Which alert rule silences which, when every alert fires for the same action."""
    rules = inhibit_rules(specs)
    active = dict(runtime_labels(specs))
    silenced_by = {key: silencers(rules, active, key) for key in active}
    rows = ["| Firing alert | Silences (same provider and action only) |", "|---|---|"]
    for source in active:
        targets = [key for key in active if source in silenced_by[key]]
        if targets:
            rows.append(f"| `{source}` | {', '.join(f'`{t}`' for t in targets)} |")
    never = ", ".join(f"`{key}`" for key in active if not silenced_by[key])
    return "\n".join(
        [
            *rows,
            "",
            f"No alert silences an alert of another provider or itself. Never silenced: {never}.",
        ]
    )


def alertmanager_readme_section(specs: SpecSet, config_text: str, amtool: str) -> str:
    rules = "\n".join(f"{i}. {rule.reason}" for i, rule in enumerate(inhibit_rules(specs), 1))
    return "\n".join(
        [
            "`rendered/alertmanager/alertmanager.yml` routes by severity; secrets are read from "
            "`*_file` paths at send time and never appear in the file.",
            "",
            receiver_table(specs),
            "",
            "Routing tree (`amtool config routes show`):",
            "",
            "```text",
            routes_show(config_text, amtool),
            "```",
            "",
            "Inhibit rules (each names its source and target alerts, which never overlap, so no "
            "alert silences itself):",
            "",
            rules,
            "",
            "Inhibition matrix: alerts are named `alertname/burn tier` or `alertname/severity`; "
            "a source silences a target only when both fire for the same provider and action.",
            "",
            inhibition_matrix(specs),
        ]
    )
