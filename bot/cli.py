"""The `todoku` command line: parse, call a service, print, exit code.

Exit codes: 0 success, 1 user error (the message says what to do), 2 usage error.
Human output goes to stdout, diagnostics to stderr, `--json` prints one document.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict

import click

from bot.errors import TodokuError, UserError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Todoku (届く): LINE segment delivery of municipal subsidy programs."""


def _wiring(*, demo: bool = False, need_secrets: bool = False):
    """Build the process wiring and check the database is ready (schema at head).

    Settings, configuration and database problems become one message and exit code 1.
    """
    from bot.logs import configure_logging
    from bot.settings import Settings
    from bot.store.health import check_schema
    from bot.wiring import wire

    settings = Settings.from_env(demo=demo or not need_secrets)
    configure_logging(settings.log_level)
    wiring = wire(settings)
    check_schema(wiring.engine)
    return wiring


@cli.group("config")
def config_group() -> None:
    """The staff configuration (TODOKU_CONFIG, default ./config)."""


@config_group.command("check")
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
@click.option(
    "--strict", is_flag=True, help="missing translations are problems too (exit 1 if any)"
)
def config_check(as_json: bool, strict: bool) -> None:
    """Validate the configuration and report every problem (exit 1 if any)."""
    import os

    folder = os.environ.get("TODOKU_CONFIG") or "config"
    sys.exit(config_check_command(folder, as_json=as_json, strict=strict))


@cli.command("plan")
@click.option("--at", "at", help="ISO date-time to plan from (default: now)")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def plan(at: str | None, as_json: bool) -> None:
    """Each campaign's coming slots and the audience size if it fired now."""
    sys.exit(plan_command(_wiring(), at, as_json))


@cli.command("audience")
@click.argument("target")
@click.option("--on", "on", type=click.DateTime(["%Y-%m-%d"]), help="day (default: today)")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def audience(target: str, on, as_json: bool) -> None:
    """Who matches a program or campaign (count and LINE user ids)."""
    wiring = _wiring()
    day = on.date() if on else wiring.clock.now().date()
    sys.exit(audience_command(wiring, target, day, as_json))


@cli.command("send")
@click.argument("campaign")
@click.option("--dry-run", is_flag=True, help="show what would be sent")
@click.option(
    "--to",
    "to",
    multiple=True,
    metavar="USER_ID",
    help="test send: only to these LINE user ids (staff); recorded in the audit log",
)
def send(campaign: str, dry_run: bool, to: tuple[str, ...]) -> None:
    """Run a campaign slot now (staff's manual trigger), or test-send it with --to."""
    wiring = _wiring(need_secrets=not dry_run)
    code = send_command(wiring, campaign, dry_run, to)
    wiring.engine.dispose()
    exit_at_once(code)


def exit_at_once(code: int) -> None:
    """Exit without tearing the interpreter down, once everything is committed and printed.

    After a send the process holds a run's worth of objects (and, with some commands, the
    SDK's models): freeing them one by one at exit took ~1 s (py-spy: no Python frame
    left on the main thread), which staff waited through for their prompt. Nothing is
    left to run: the run is settled, the dispatcher's threads are idle, logs and output
    are flushed here.
    """
    import contextlib
    import logging
    import os

    for stream in (sys.stdout, sys.stderr):
        # A closed pipe (`todoku send … | head`): nothing more can be said.
        with contextlib.suppress(OSError):
            stream.flush()
    logging.shutdown()
    os._exit(code)


@cli.command("scheduler")
def scheduler() -> None:
    """The clock process: housekeeping now; campaign slots come with the dispatcher."""
    from bot.admin.snapshot import scheduler_jobs
    from bot.dispatch.scheduler import run_scheduler
    from bot.registration.language import scheduler_job

    wiring = _wiring(need_secrets=True)
    run_scheduler(wiring, periodic=[*scheduler_jobs(wiring), scheduler_job()])


@cli.group("residents")
def residents_group() -> None:
    """Resident data."""


@residents_group.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
def residents_import(path: str) -> None:
    """Bulk-load residents from JSON Lines (all or nothing)."""
    sys.exit(import_command(_wiring(), path))


@residents_group.command("purge")
def residents_purge() -> None:
    """Delete the answers of residents who blocked the account past the retention time."""
    sys.exit(purge_command(_wiring()))


@cli.group("kpi", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.pass_context
def kpi(ctx: click.Context, as_json: bool) -> None:
    """The KPI figures the dashboard shows (`kpi record` enters a figure)."""
    if ctx.invoked_subcommand is not None:
        return
    sys.exit(kpi_command(_wiring(), as_json))


@kpi.command("record")
@click.argument("figure", type=click.Choice(["homepage-visits"]))
@click.option("--month", required=True, metavar="YYYY-MM", help="the month, e.g. 2026-11")
@click.option("--count", required=True, type=click.IntRange(min=0), help="visitors that month")
def kpi_record(figure: str, month: str, count: int) -> None:
    """Enter a month's figure from the city's web analytics (audited; re-entering corrects)."""
    sys.exit(kpi_record_command(_wiring(), figure, month, count))


@cli.group("staff")
def staff_group() -> None:
    """Staff logins for the dashboard."""


@staff_group.command("add")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(["viewer", "sender", "admin"]),
    default="viewer",
    show_default=True,
    help="viewer 閲覧 (read only), sender 配信 (test send, HP visits), "
    "admin 管理 (staff, audit log)",
)
def staff_add(name: str, role: str) -> None:
    """Create a staff login (the password is asked, never taken from the command line)."""
    wiring = _wiring()
    sys.exit(staff_add_command(wiring, name, _ask_password(), role))


@staff_group.command("passwd")
@click.argument("name")
def staff_passwd(name: str) -> None:
    """Set a new password for a staff login; its open sessions end at once."""
    wiring = _wiring()
    sys.exit(staff_passwd_command(wiring, name, _ask_password()))


@staff_group.command("remove")
@click.argument("name")
def staff_remove(name: str) -> None:
    """Delete a staff login; its open sessions end at once."""
    sys.exit(staff_remove_command(_wiring(), name))


def _ask_password() -> str:
    return click.prompt(
        "パスワード（12文字以上）",
        hide_input=True,
        confirmation_prompt="パスワード（確認のため、もう一度）",
    )


@cli.group("db")
def db_group() -> None:
    """The database."""


@db_group.command("upgrade")
def db_upgrade() -> None:
    """Apply migrations up to the newest schema."""
    from bot.settings import Settings
    from bot.store.engine import make_engine
    from bot.store.migrate import upgrade

    settings = Settings.from_env(demo=True)  # needs only DATABASE_URL
    engine = make_engine(settings.database_url, timeout=None, create=True)
    upgrade(engine)
    click.echo(f"database is up to date ({engine.url.render_as_string(hide_password=True)})")


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Run the web process for development (production: gunicorn, see Procfile)."""
    from bot.app import create_app
    from bot.line.startup import prepare_line_platform

    app = create_app()
    prepare_line_platform(app.extensions["todoku"])
    app.run(host=host, port=port, threaded=True)


@cli.command("linesim")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8100, show_default=True, type=int)
@click.option("--webhook", default="http://127.0.0.1:8000/callback", show_default=True)
def linesim(host: str, port: int, webhook: str) -> None:
    """Run the local LINE platform; it posts residents' events to the bot's webhook."""
    from bot.settings import Settings
    from linesim.server import serve as serve_sim

    settings = Settings.from_env(demo=True)
    serve_sim(
        host=host,
        port=port,
        webhook_url=webhook,
        channel_secret=settings.channel_secret.get_secret_value(),
        access_token=settings.channel_access_token.get_secret_value(),
    )


@cli.command("demo")
@click.option("--port", default=8000, show_default=True, type=int, help="bot web port")
@click.option("--sim-port", default=8100, show_default=True, type=int, help="linesim port")
def demo(port: int, sim_port: int) -> None:
    """Everything at once on SQLite and linesim, with sample residents; prints the URLs."""
    import threading

    from bot.demo import start_demo

    demo = start_demo(port=port, sim_port=sim_port)
    user, password = demo.login
    print(
        f"\nTodoku demo is running.\n  chat page (linesim): {demo.chat_url}/\n"
        f"  dashboard:           {demo.bot_url}/admin/  (login {user} / {password})\n"
        f"  bot webhook:         {demo.bot_url}/callback\n"
        f"  health:              {demo.bot_url}/healthz\n"
        f"  demo clock:          starts at {demo.clock_start:%Y-%m-%d %H:%M} (Asia/Tokyo)\n"
        "Press Ctrl+C to stop.",
        flush=True,
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        demo.stop()


# --- Printing: the services return data; what staff see is written here -------------------


def config_check_command(folder: str, *, as_json: bool = False, strict: bool = False) -> int:
    """`todoku config check [--strict]`: every problem (stderr) or a summary (stdout); the
    exit code. Missing translations are notes, or problems with `strict`."""
    from bot.config import check_folder, format_problems, problems_json
    from bot.config.check import explain_questions, missing_translations, warnings
    from bot.config.population import read_population

    config, problems = check_folder(folder)
    # population.csv is optional and only feeds the dashboard: checked here, never fatal
    # for the running processes.
    districts = config.municipality.districts if config is not None else None
    population, population_problems = read_population(folder, districts)
    problems = [*problems, *population_problems]
    untranslated = missing_translations(config, folder) if config is not None else []
    if strict:
        problems = [*problems, *untranslated]
    if as_json:
        print(problems_json(problems))
    elif problems:
        print(format_problems(problems), file=sys.stderr)
    if config is None or problems:
        return 1
    if not as_json:
        slots = sum(len(config.slot_times(c)) for c in config.campaigns)
        print(
            f"OK: {len(config.programs)} programs, {len(config.campaigns)} campaigns, "
            f"{slots} send slots"
            + (f", population.csv: {len(population.counts)} figures" if population else "")
        )
        for line in [*warnings(config), *explain_questions(config)]:
            print(line)
        if untranslated:
            print(
                f"Translations missing ({len(untranslated)}; residents of those languages get "
                "the Japanese with a note; `todoku config check --strict` fails on them):"
            )
            for problem in untranslated:
                print(f"  {problem}")
    return 0


def plan_command(wiring, at: str | None, as_json: bool) -> int:
    """`todoku plan [--at ISO-DATETIME] [--json]`."""
    from bot.dispatch.plan import catchup_so_far, coming_slots, notice_preview, parse_at

    after = parse_at(at) if at else wiring.clock.now()
    plan = coming_slots(wiring, after)
    catchup = catchup_so_far(wiring)
    if as_json:
        doc = {
            "campaigns": [
                {
                    "id": c.id,
                    "slots": [{"at": p.at.isoformat(), "audience": n} for p, n in slots],
                    # Residents who became eligible after a slot ran, told once (so far).
                    "catchup": catchup.get(c.id, {}),
                }
                for c, slots in plan
            ]
        }
        print(json.dumps(doc, ensure_ascii=False))
        return 0
    print(f"配信予定（{after:%Y-%m-%d %H:%M} 以降、対象者数はいま送った場合の人数）")
    for campaign, slots in plan:
        program = wiring.config.program(campaign.program)
        print(f"\n■ {campaign.id}  {program.name}")
        if catchup.get(campaign.id):
            so_far = format_counts(catchup[campaign.id])
            print(f"  追いかけ配信（あとから対象になった方・これまで）：{so_far}")
        if not slots:
            print("  （これからの送信はありません）")
            continue
        for slot, n in slots:
            kind = "リマインド" if slot.is_reminder else "初回"
            print(f"  {slot.at:%Y-%m-%d %H:%M}  {kind:<6}  {n:>8,} 人")
        print("  次に送るお知らせ：")
        for line in notice_preview(program, campaign.lead, slots[0][0].at.date()):
            print(f"    {line}")
    return 0


def send_command(wiring, campaign_id: str, dry_run: bool, to: Sequence[str]) -> int:
    """`todoku send CAMPAIGN [--dry-run] [--to USER_ID ...]`: print what happened; exit code."""
    from bot.dispatch import plan
    from bot.dispatch.run import campaign_of
    from bot.store.models import RunStatus

    campaign = campaign_of(wiring.config, campaign_id)
    if to:
        sent = plan.staff_test_send(wiring, campaign, to, actor=cli_actor())
        done = f"テスト配信を {sent.recipients} 人に送りました（{sent.request_id}）"
        print(f"{sent.campaign_id}: {done}")
        return 0
    if dry_run:
        preview = plan.dry_run(wiring, campaign)
        would = f"{preview.audience:,} 人に送ります（dry run: 何も書き込まず、送りません）"
        print(f"{preview.campaign_id}: {would}")
        for line in preview.preview:
            print(f"  {line}")
        return 0
    summary = plan.send_now(wiring, campaign, cli_actor())
    if not summary.claimed:
        print(f"{campaign.id}: この時刻（{summary.slot_at:%H:%M}）の送信は、もう実行されています。")
    print(f"run {summary.run_id} ({summary.status}): " + format_counts(summary.counts, "0 notices"))
    if summary.reason:
        print(f"理由: {summary.reason}")
    if summary.status == RunStatus.SENDING:
        raise UserError(
            "some notices are not confirmed by LINE yet; `todoku scheduler` "
            "retries them with the same retry keys (no duplicates)"
        )
    return 0


def format_counts(counts: dict[str, int], none: str = "0") -> str:
    """`sent 3, deferred 1`: the non-zero counts in the order what happened first, open last."""
    from bot.dispatch.plan import STATUS_ORDER

    return ", ".join(f"{s} {counts[s]}" for s in STATUS_ORDER if counts.get(s)) or none


def audience_command(wiring, target: str, on, as_json: bool) -> int:
    """`todoku audience TARGET [--on DATE] [--json]`: print who matches; the exit code."""
    from bot.store.queries import UnknownTarget, audience_ids, target_rules

    try:
        rules = target_rules(wiring.config, target)
    except UnknownTarget as error:
        print(error, file=sys.stderr)
        return 1
    # Ids go to a spooled temporary file while they are counted, so the JSON can put the
    # count first without holding a large audience in memory.
    with tempfile.SpooledTemporaryFile(8 << 20, mode="w+", encoding="utf-8") as ids:
        count = 0
        for users in audience_ids(wiring.engine, rules, on):
            if as_json:
                ids.write((", " if count else "") + ", ".join(json.dumps(u) for u in users))
            else:
                ids.writelines(f"{u}\n" for u in users)
            count += len(users)
        ids.seek(0)
        if as_json:
            head = {"target": target, "on": on.isoformat(), "count": count}
            sys.stdout.write(json.dumps(head, ensure_ascii=False)[:-1] + ', "line_user_ids": [')
            shutil.copyfileobj(ids, sys.stdout)
            sys.stdout.write("]}\n")
        else:
            print(f"{target}: {count} residents on {on.isoformat()}")
            shutil.copyfileobj(ids, sys.stdout)
    return 0


def kpi_command(wiring, as_json: bool) -> int:
    """`todoku kpi [--json]`: the KPI figures (JSON or a short table); exit code 0."""
    from bot.kpi import compute_kpis

    with wiring.session_factory() as session:
        figures = compute_kpis(session, wiring.clock.now(), wiring.config)
    if as_json:
        print(json.dumps(asdict(figures), ensure_ascii=False))
        return 0
    rows = [
        ("登録者数 (registrations)", figures.registrations, figures.registrations_target),
        ("  うちご本人 (self)", figures.registrations_self, None),
        ("  うちご家族・代理受信 (family)", figures.registrations_family, None),
        ("友だち数 (followers)", figures.followers, None),
        (
            "配信した制度数 (programs distributed)",
            figures.programs_distributed,
            figures.programs_distributed_target,
        ),
        (
            "通知からのHP訪問・今月 (homepage visits via notices, this month)",
            figures.homepage_visits_this_month,
            None,
        ),
        (
            f"HP訪問者数・{figures.homepage_visitors_month or '未入力'} (homepage visitors)",
            figures.homepage_visitors if figures.homepage_visitors is not None else "—",
            figures.homepage_visits_per_month_target,
        ),
        ("追いかけ配信 (catch-up notices sent)", figures.catchup_sent, None),
        ("削除 (deletions)", figures.deletions, None),
        ("ブロック (unfollows)", figures.unfollows, None),
        ("ブロック後の自動削除 (purged)", figures.purged, None),
    ]
    print(f"{figures.fiscal_year}年度")
    for label, value, target in rows:
        print(f"  {label}: {value}" + (f" / 目標 {target}" if target else ""))
    return 0


def import_command(wiring, path: str) -> int:
    """`todoku residents import FILE.jsonl`: print the outcome, return the exit code."""
    from pathlib import Path

    from bot.residents.importer import BadResidentsFile, import_residents

    if not Path(path).is_file():
        print(f"{path}: no such file; give the path of a JSON Lines file", file=sys.stderr)
        return 1
    try:
        count = import_residents(wiring.engine, path, wiring.config, now=wiring.clock.now())
    except BadResidentsFile as error:
        print(error, file=sys.stderr)
        return 1
    print(f"imported {count} residents from {path}")
    return 0


def purge_command(wiring) -> int:
    """`todoku residents purge`: purge now and print how many were removed; exit code 0."""
    from bot.residents.purge import purge

    days = wiring.settings.unfollow_retention_days
    count = purge(wiring.session_factory, wiring.clock.now(), days)
    print(f"purged {count} resident(s) who unfollowed more than {days} days ago")
    return 0


def kpi_record_command(wiring, figure: str, month: str, count: int) -> int:
    """`todoku kpi record homepage-visits --month YYYY-MM --count N`; exit code 0."""
    from bot.admin.snapshot import invalidate
    from bot.kpi import parse_month, record_homepage_visits

    day = parse_month(month)
    record_homepage_visits(wiring.session_factory, day, count, wiring.clock.now(), cli_actor())
    invalidate(wiring)  # the dashboard counts again (scheduler, or its next page)
    print(f"{day.year}年{day.month}月のHP訪問者数を {count:,} 人として記録しました。")
    return 0


def staff_add_command(wiring, name: str, password: str, role: str = "viewer") -> int:
    """`todoku staff add NAME [--role R]` after the password was asked: create it; exit code."""
    from bot.admin.roles import role_label
    from bot.admin.staff import create_staff

    create_staff(wiring.session_factory, name, password, wiring.clock.now(), role, cli_actor())
    print(
        f"職員「{name.strip()}」を登録しました（役割: {role_label(role)} {role}）。"
        "/admin/login からログインできます。"
    )
    return 0


def staff_passwd_command(wiring, name: str, password: str) -> int:
    """`todoku staff passwd NAME`: set a new password, ending that login's sessions."""
    from bot.admin.staff import change_password

    change_password(wiring.session_factory, name, password, wiring.clock.now(), cli_actor())
    print(
        f"職員「{name.strip()}」のパスワードを変更しました。ログイン中の画面はログアウトされます。"
    )
    return 0


def staff_remove_command(wiring, name: str) -> int:
    """`todoku staff remove NAME`: delete the login; its sessions end at once."""
    from bot.admin.staff import remove_staff

    remove_staff(wiring.session_factory, name, wiring.clock.now(), cli_actor())
    print(f"職員「{name.strip()}」を削除しました。ログイン中の画面も使えなくなります。")
    return 0


def cli_actor() -> str:
    """Who the audit log names for a command: the operating-system user, as `cli:NAME`."""
    import getpass

    try:
        return "cli:" + getpass.getuser()
    except (KeyError, OSError):  # no user name in a bare container
        return "cli"


def main() -> None:
    """Entry point: map Todoku's errors to messages and exit codes."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:  # usage errors: exit 2
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except TodokuError as exc:  # SettingsError, UserError, ConfigError, ...
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except Exception as exc:  # a bug or an outage, not the user's mistake: one line
        click.echo(f"error: {_unexpected(exc)}", err=True)
        sys.exit(1)


def _unexpected(exc: Exception) -> str:
    """Save the traceback to a private file; the one line that names it and the error."""
    import os
    import tempfile
    import traceback
    import uuid

    from bot.logs import database_error_summary, hide_database_details

    reference = uuid.uuid4().hex[:12]
    # Database errors lose their texts (they may quote a resident's row), as in the logs.
    event = hide_database_details(None, "", {"exc_info": exc})
    details = event.get("exception") or "".join(traceback.format_exception(exc))
    folder = os.path.join(tempfile.gettempdir(), "todoku-errors")
    path = os.path.join(folder, f"{reference}.txt")
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(f"todoku {' '.join(sys.argv[1:2])}: {reference}\n{details}")
    except OSError:
        path = "(could not be saved)"
    return f"unexpected {database_error_summary(exc)}; reference {reference}, details in {path}"
