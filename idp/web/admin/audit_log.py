"""Console: the audit log, filtered, paged, exported as JSON Lines."""

from __future__ import annotations

from flask import Response, g, render_template, request, stream_with_context

from idp.clock import now
from idp.manage import audit_log
from idp.manage.audit_log import AuditFilter
from idp.manage.errors import Invalid
from idp.web.admin import bp

FILTER_ARGS = ("user", "client", "event", "since", "until")


def _filter_args() -> dict[str, str]:
    return {name: request.args.get(name, "") for name in FILTER_ARGS}


@bp.get("/audit")
def audit_view() -> str | tuple[str, int]:
    """Newest first, 100 a page; filters by user (email or id), client, event, time."""
    args = _filter_args()
    before = request.args.get("before", "")
    try:
        selected = audit_log.read_filter(args)
    except Invalid as exc:
        return render_template(
            "admin/audit.html", args=args, events=[], labels=None, errors=exc.errors, more=None
        ), 422
    before_id = int(before) if before.isdigit() and len(before) < 12 else None
    events = audit_log.page(selected, before_id=before_id)
    more = events[-1].id if len(events) == audit_log.PAGE_SIZE else None
    return render_template(
        "admin/audit.html",
        args=args,
        events=events,
        labels=audit_log.UserLabels(),
        errors=[],
        more=more,
    )


@bp.get("/audit/export")
def audit_export() -> Response:
    """The filtered events as a JSON Lines download; the export itself is audited."""
    selected: AuditFilter = audit_log.read_filter(_filter_args())
    audit_log.record_export(selected, actor=g.actor)
    name = f"audit-{now():%Y%m%dT%H%M%SZ}.jsonl"
    return Response(
        stream_with_context(audit_log.export_lines(selected)),
        mimetype="application/x-ndjson",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )
