"""Argo CD's sandbox for health scripts from argocd-cm, rebuilt on a real Lua 5.1.

Argo CD (util/lua/lua.go, ``runLuaWithResourceActionParameters``) runs a script from
argocd-cm in gopher-lua (Lua 5.1) with ``SkipOpenLibs`` unless
``resource.customizations.useOpenLibs.<group>_<kind>`` is set, then opens only the
package, base and table libraries and a safe os library (``time`` and ``date``). There is
no string library, so strings have no metatable and ``s:find(...)`` fails. The object is
the global ``obj`` (JSON decoded into tables: arrays 1-indexed, null absent, numbers
doubles), and the script returns a table whose ``status`` must be a known health code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lupa import lua51

REPO = Path(__file__).resolve().parents[2]
# The shipped checks, laid out as Argo CD's resource_customizations/<group>/<kind>/health.lua.
HEALTH_CHECKS = REPO / "charts" / "modelship" / "argocd"
GROUP = "modelship.dev"
KINDS = ("ModelDeployment", "RetrainJob")
# gitops-engine's health codes; Argo CD turns any other into Unknown.
HEALTH_CODES = frozenset({"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"})

# gopher-lua's OpenBase (baselib.go baseFuncs, plus ipairs, pairs, _G and _VERSION) and
# OpenPackage's module and require; nothing of string, math, io, debug or coroutine.
_BASE = [
    "assert",
    "collectgarbage",
    "dofile",
    "error",
    "getfenv",
    "getmetatable",
    "load",
    "loadfile",
    "loadstring",
    "next",
    "pcall",
    "print",
    "rawequal",
    "rawget",
    "rawset",
    "select",
    "setfenv",
    "setmetatable",
    "tonumber",
    "tostring",
    "type",
    "unpack",
    "xpcall",
    "module",
    "require",
    "ipairs",
    "pairs",
    "_VERSION",
]

_SANDBOX = """
local base_names, script, chunk_name = ...
local env = {}
for _, name in ipairs(base_names) do env[name] = _G[name] end
env._G = env
env.table = {}
for name, fn in pairs(table) do env.table[name] = fn end
env.os = {time = os.time, date = os.date}
env.package = {loaded = {}}
-- Without gopher-lua's OpenString, strings have no metatable: no s:method() calls.
debug.setmetatable("", nil)
local fn, err = loadstring(script, chunk_name)
if fn == nil then error(err, 0) end
setfenv(fn, env)
return env, fn
"""


def health_check_path(kind: str) -> Path:
    return HEALTH_CHECKS / GROUP / kind / "health.lua"


def health_check(kind: str) -> str:
    """The Lua the chart ships for ``kind``."""
    return health_check_path(kind).read_text()


def config_map_key(kind: str) -> str:
    """The argocd-cm key Argo CD looks the check up under."""
    return f"resource.customizations.health.{GROUP}_{kind}"


@dataclass(frozen=True)
class Health:
    status: str
    message: str


def evaluate(script: str, obj: Mapping[str, Any], name: str = "health.lua") -> Health:
    """What Argo CD's health assessment makes of ``obj`` with ``script`` from argocd-cm."""
    runtime = lua51.LuaRuntime(unpack_returned_tuples=True, register_eval=False)
    names = runtime.table_from(_BASE)
    env, fn = runtime.execute(_SANDBOX, names, script, f"={name}")
    env["obj"] = _to_lua(runtime, obj)
    result = fn()
    if result is None:  # Argo CD: no health
        return Health("", "")
    status, message = result["status"], result["message"]
    if status not in HEALTH_CODES:
        raise AssertionError(f"{name} returned {status!r}, which Argo CD reports as Unknown")
    return Health(str(status), "" if message is None else str(message))


def _to_lua(runtime: Any, value: Any) -> Any:
    """As Argo CD's decodeValue: maps and lists to tables, numbers to doubles, null to nil."""
    if isinstance(value, Mapping):
        table = runtime.table()
        for key, item in value.items():
            if item is not None:
                table[str(key)] = _to_lua(runtime, item)
        return table
    if isinstance(value, list):
        return runtime.table_from([_to_lua(runtime, item) for item in value])
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return float(value)
    return str(value)  # timestamps a YAML loader parsed: JSON has them as strings
