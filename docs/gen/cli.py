"""The command-line reference, rendered by walking the click command tree of the typer app."""

from __future__ import annotations

import os
from typing import Any

import click
import typer

from .markdown import code, notice, page, table

PROGRAM = "cart-relapse"


def render_cli(app: typer.Typer | None = None, *, program: str = PROGRAM) -> str:
    """The CLI page: the program's help, then each command with its usage, help and every parameter.

    Args:
        app: the typer app (``cart_relapse.cli.app`` by default).
        program: the installed command name shown in usage lines.

    Returns:
        The page as Markdown.
    """
    if app is None:
        from cart_relapse.cli import app
    root = typer.main.get_command(app)
    root_ctx = click.Context(root, info_name=program)
    commands = root.commands if isinstance(root, click.Group) else {}
    return page(
        "# Command line",
        notice(script="docs/gen/cli.py", source="the typer app in cart_relapse/cli.py"),
        _help_text(root),
        f"Usage: {code(_usage(root, root_ctx))}. Every command takes `--help`.",
        table(
            ["command", "what it does"],
            [(f"[`{name}`](#{_anchor(program, name)})", _first_line(cmd)) for name, cmd in commands.items()],
        ),
        *(
            _command_section(cmd, click.Context(cmd, info_name=name, parent=root_ctx), program)
            for name, cmd in commands.items()
        ),
    )


def _command_section(command: click.Command, ctx: click.Context, program: str) -> str:
    name = ctx.info_name or command.name or ""
    rows = [_param_row(param, ctx) for param in command.get_params(ctx) if not _is_help(param, ctx)]
    blocks = [
        f"## `{program} {name}` {{#{_anchor(program, name)}}}",
        _help_text(command),
        f"```console\n$ {_usage(command, ctx)}\n```",
    ]
    if rows:
        blocks.append(table(["parameter", "type", "default", "description"], rows))
    return "\n\n".join(blocks)


def _param_row(param: click.Parameter, ctx: click.Context) -> tuple[str, str, str, str]:
    info = param.to_info_dict()
    if isinstance(param, click.Argument):
        names = code((param.human_readable_name or "").upper())
    else:
        names = ", ".join(code(opt) for opt in [*param.opts, *param.secondary_opts])
    help_text = getattr(param, "help", None) or ""
    description = "; ".join(text for text in (help_text, "required" if param.required else "") if text)
    kind = _type_name(param, info) + (", repeatable" if info.get("multiple") else "")
    return names, kind, _default(param, info), description


def _type_name(param: click.Parameter, info: dict[str, Any]) -> str:
    if isinstance(param, click.Option) and param.is_flag:
        return "flag"
    kind = info["type"]
    name = str(kind.get("name", "")).replace(" range", "")
    bounds = [f"{op} {kind[key]}" for key, op in (("min", ">="), ("max", "<=")) if kind.get(key) is not None]
    if kind.get("choices"):
        return "one of " + ", ".join(code(c) for c in kind["choices"])
    return name + (f" ({', '.join(bounds)})" if bounds else "")


def _default(param: click.Parameter, info: dict[str, Any]) -> str:
    default = info.get("default")
    if isinstance(default, os.PathLike):
        default = os.fspath(default)
    if isinstance(param, click.Option) and param.is_flag:
        return "off" if not default else "on"
    if default is None or param.required or not isinstance(default, str | int | float | bool):
        return ""
    return code(default)


def _is_help(param: click.Parameter, ctx: click.Context) -> bool:
    return isinstance(param, click.Option) and param.name in {
        o.name for o in [ctx.command.get_help_option(ctx)] if o
    }


def _usage(command: click.Command, ctx: click.Context) -> str:
    return " ".join([ctx.command_path, *command.collect_usage_pieces(ctx)])


def _help_text(command: click.Command) -> str:
    return (command.help or "").strip()


def _first_line(command: click.Command) -> str:
    return _help_text(command).split("\n\n")[0].replace("\n", " ")


def _anchor(program: str, name: str) -> str:
    return f"{program}-{name}".lower()
