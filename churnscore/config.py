"""YAML config -> frozen, typed objects. Unknown keys are rejected with their path and the closest valid key."""

from __future__ import annotations

import datetime
import difflib
import hashlib
import json
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from .contract import EXPORTS
from .errors import ConfigError
from .limits import CONFIG_MAX_BYTES, FIELD_MAX_BYTES, SHOWN_CHARS, TooLarge, YamlRefused, load_yaml, read_bounded, shown

PACKAGE_ROOT = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_ROOT.parent
DEFAULT_CONFIG = REPO_ROOT / "configs" / "default.yaml"
PRESET_DIR = REPO_ROOT / "configs" / "presets"  # vendor presets: <name>.yaml with column and value mappings
DEFAULT_OUTPUT = Path("out") / "ranked.csv"  # the ranked list when neither --out nor output.path names one


# ----------------------------------------------------------------------------- typed config


@dataclass(frozen=True)
class InputSpec:
    """Where one export is and how its columns map onto the contract."""

    path: str | None = None  # file, folder or glob; None: found by name in input_dir
    columns: dict[str, str] = field(default_factory=dict)  # canonical -> source column name
    values: dict[str, dict[str, str | None]] = field(default_factory=dict)  # column -> {source value: value or None}
    date_format: str | None = None  # strftime format, or "unix" (seconds since 1970); None: ISO 8601
    sep: str | None = None  # None: detect (comma, semicolon, tab, pipe)
    encoding: str | None = None  # None: UTF-8 (with or without BOM), else fail clearly
    account_source: str | None = None  # account_map source whose keys this export's account_id holds; None: ids
    snapshot_date: datetime.date | None = None  # accounts only: the day the export describes; None: the latest day
    max_field_bytes: int = FIELD_MAX_BYTES  # limits.field_bytes: a longer value makes its row a reject
    decimal: str | None = None  # "," or "."; None: detected per column where unambiguous (see values.py)
    timezone: str | None = None  # IANA zone of times written without an offset; None: UTC
    skip_rows: int = 0  # not a config key: extra header rows found in a file (Qualtrics), set by headrows.py
    skip_lines: int = 0  # the lines those rows span, so that line numbers stay the file's


@dataclass(frozen=True)
class AccountMapSpec:
    """The optional account-mapping file: rows (source, key, account_id) that join vendor keys (a Zendesk
    organization, a Stripe customer id, an email domain) to the account ids of the accounts export."""

    path: str | None = None  # None: <input_dir>/account_map.csv when that file exists


@dataclass(frozen=True)
class Windows:
    short_days: int = 30
    long_days: int = 90


@dataclass(frozen=True)
class FeatureParams:
    key_features: tuple[str, ...] = ("report_created", "dashboard_viewed", "integration_sync")
    login_event: str = "login"
    unresolved_days: int = 14
    young_account_days: int = 90
    nps_silence_days: int = 180
    ticket_silence_min_prior: int = 3
    late_grace_days: int = 0
    contract_months: int | None = None  # contract term for every account without a term of its own; None: unknown
    contract_terms: dict[str, int] = field(default_factory=dict)  # plan (any case) -> contract term in months


@dataclass(frozen=True)
class Leaf:
    feature: str
    op: str
    value: Any = None


@dataclass(frozen=True)
class AllOf:
    items: tuple[Any, ...]


@dataclass(frozen=True)
class AnyOf:
    items: tuple[Any, ...]


Condition = Leaf | AllOf | AnyOf


@dataclass(frozen=True)
class RuleSpec:
    name: str
    when: Condition
    weight: float
    reason: str
    play: str = ""
    supersedes: tuple[str, ...] = ()  # rules whose reason this one implies: not told where this one fires
    supersedes_when: tuple["Condition | None", ...] = ()  # per superseded rule: only where this holds (None: always)


@dataclass(frozen=True)
class PlaySpec:
    """One entry of the playbook: where ``when`` holds (None: always), ``play`` (None: the play of the
    heaviest reason told), done by ``owner`` within ``due_days`` of the as-of date."""
    name: str
    when: "Condition | None"
    play: str | None
    owner: str
    due_days: int


@dataclass(frozen=True)
class Scoring:
    tier_high: float = 60.0
    tier_medium: float = 30.0
    rank_by: str = "risk"  # risk | revenue
    revenue_at_risk_tiers: tuple[str, ...] = ("high", "medium")  # the tiers the headline's revenue counts


@dataclass(frozen=True)
class Output:
    path: str | None = None  # relative to the config's folder; None: DEFAULT_OUTPUT in the working directory
    format: str = "csv"  # csv | parquet | json
    top: int | None = None
    currency: str | None = None  # shown before money amounts; None: the payments export's, if it has one


@dataclass(frozen=True)
class Rejects:
    max_reject_rate: float = 0.05


@dataclass(frozen=True)
class Limits:
    field_bytes: int = FIELD_MAX_BYTES  # a value (an id, a comment) longer than this makes its row a reject


@dataclass(frozen=True)
class ModelParams:
    horizon_days: int = 90
    observation_interval_days: int = 30
    observation_count: int | None = None  # None: every interval over the history
    min_history_days: int = 60  # first observation date this long after the first usage row
    cv_folds: int = 4
    cv_max_rows: int = 100_000  # larger training sets choose C on a seeded sample of whole accounts
    c_grid: tuple[float, ...] = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
    class_weight: str | None = "balanced"
    random_state: int = 0
    exclude_features: tuple[str, ...] = ()  # kept out of the model (and the flags that use them)
    max_age_days: int = 120  # score --model warns when the model's training as-of is longer ago than this


@dataclass(frozen=True)
class Config:
    source: str  # the file it came from, or "<dict>"
    base_dir: Path  # relative paths resolve against this (the config file's folder)
    input_dir: str | None
    inputs: dict[str, InputSpec]
    windows: Windows
    features: FeatureParams
    rules: tuple[RuleSpec, ...]
    scoring: Scoring
    output: Output
    rejects: Rejects
    model: ModelParams
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)
    account_map: AccountMapSpec = field(default_factory=AccountMapSpec)
    presets: tuple[str, ...] = ()  # vendor presets applied, in order (configs/presets/<name>.yaml)
    limits: Limits = field(default_factory=Limits)
    playbook: tuple[PlaySpec, ...] = ()  # first match wins; empty: the heaviest reason's play, no owner

    def resolve(self, path: str | Path) -> Path:
        """A path from the config, relative to the config file's folder."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)

    @property
    def output_path(self) -> Path:
        """Where the ranked list goes when --out does not say: output.path, relative to the config file's folder
        like every path written in the config; without one, out/ranked.csv in the working directory (the
        default of a command, like train's out/model.json, is not a path written in any file)."""
        return self.resolve(self.output.path) if self.output.path else DEFAULT_OUTPUT

    @property
    def hash(self) -> str:
        """SHA-256 of the parsed config (canonical JSON), for manifests and model metadata."""
        blob = json.dumps(self.raw, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()


# ----------------------------------------------------------------------------- parsing helpers


def _suggest(key: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else f" Valid keys: {', '.join(sorted(allowed))}."


def _mapping(value: Any, path: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"config: '{path}' must be a mapping, got {type(value).__name__} {shown(value)}.")
    return value


def _check_keys(d: dict[str, Any], allowed: list[str], path: str) -> None:
    for key in d:
        if key not in allowed:
            where = f"{path}.{key}" if path else str(key)
            if len(where) > SHOWN_CHARS:
                raise ConfigError(f"config: unknown key {shown(where)}. Valid keys: {', '.join(sorted(allowed))}.")
            raise ConfigError(f"config: unknown key '{where}'.{_suggest(str(key), allowed)}")


def _typed(value: Any, kind: type, path: str, *, minimum: float | None = None) -> Any:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if kind is int and isinstance(value, bool) or not isinstance(value, kind):
        raise ConfigError(f"config: '{path}' must be {kind.__name__}, got {shown(value)}.")
    if minimum is not None and value < minimum:
        raise ConfigError(f"config: '{path}' must be >= {minimum}, got {shown(value)}.")
    return value


def _section(cls: type, raw: Any, path: str, types: dict[str, tuple[type, float | None]]) -> Any:
    """Build a flat dataclass section: every key checked for name and type."""
    d = _mapping(raw, path)
    _check_keys(d, list(types), path)
    nullable = {f.name for f in fields(cls) if "None" in str(f.type)}  # e.g. "int | None"
    kwargs = {}
    for key, value in d.items():
        kind, minimum = types[key]
        if value is None:
            if key not in nullable:  # only keys typed "X | None" may be null
                want = "a list" if kind is tuple else kind.__name__
                raise ConfigError(f"config: '{path}.{key}' must be {want}, got None.")
            kwargs[key] = None
            continue
        if kind is tuple:
            if not isinstance(value, list):
                raise ConfigError(f"config: '{path}.{key}' must be a list, got {shown(value)}.")
            kwargs[key] = tuple(value)
        else:
            kwargs[key] = _typed(value, kind, f"{path}.{key}", minimum=minimum)
    return cls(**kwargs)


def _condition(raw: Any, path: str) -> Condition:
    d = _mapping(raw, path)
    if "all" in d or "any" in d:
        _check_keys(d, ["all", "any"], path)
        if len(d) != 1:
            raise ConfigError(f"config: '{path}' has both 'all' and 'any'; nest one inside the other.")
        (kind, items), = d.items()
        if not isinstance(items, list) or not items:
            raise ConfigError(f"config: '{path}.{kind}' must be a non-empty list of conditions.")
        parsed = tuple(_condition(item, f"{path}.{kind}[{i}]") for i, item in enumerate(items))
        return AllOf(parsed) if kind == "all" else AnyOf(parsed)
    _check_keys(d, ["feature", "op", "value"], path)
    for key in ("feature", "op"):
        if key not in d:
            raise ConfigError(f"config: '{path}' needs '{key}' (a condition is feature, op, value; or all/any).")
    return Leaf(str(d["feature"]), str(d["op"]), d.get("value"))


def _rules(raw: Any) -> tuple[RuleSpec, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError("config: 'rules' must be a list of rules.")
    if not raw:  # an empty list would tier every account low without a word; leave the key out for the default
        raise ConfigError("config: 'rules' is an empty list: every account would score 0 and tier low. List "
                          "at least one rule (see configs/default.yaml for the default ones).")
    out: list[RuleSpec] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        path = f"rules[{i}]"
        d = _mapping(item, path)
        name = d.get("name")
        if name:
            path = f"rules[{i}] ({name})"
        _check_keys(d, ["name", "when", "weight", "reason", "play", "supersedes"], path)
        for key in ("name", "when", "weight", "reason"):
            if key not in d:
                raise ConfigError(f"config: rule '{path}' needs '{key}'.")
        if name in seen:
            raise ConfigError(f"config: rule name '{name}' is used twice; rule names must be unique.")
        seen.add(name)
        weight = _typed(d["weight"], float, f"{path}.weight", minimum=0.0)
        if weight > 1:
            raise ConfigError(f"config: '{path}.weight' must be between 0 and 1, got {weight}.")
        names: list[str] = []
        conditions: list[Condition | None] = []
        for j, item in enumerate(_list(d.get("supersedes") or [], f"{path}.supersedes")):
            if isinstance(item, dict):  # {rule: name, when: condition}: superseded only where the condition holds
                _check_keys(item, ["rule", "when"], f"{path}.supersedes[{j}]")
                item, cond = item.get("rule"), _condition(item.get("when"), f"{path}.supersedes[{j}].when")
            else:
                cond = None
            if not isinstance(item, str):
                raise ConfigError(f"config: '{path}.supersedes[{j}]' must be a rule name or {{rule, when}}, "
                                  f"got {shown(item)}.")
            names.append(item)
            conditions.append(cond)
        out.append(RuleSpec(str(name), _condition(d["when"], f"{path}.when"), weight,
                            str(d["reason"]), str(d.get("play") or ""), tuple(names), tuple(conditions)))
    names = {r.name for r in out}
    for i, rule in enumerate(out):
        for other in rule.supersedes:
            if other not in names or other == rule.name:
                raise ConfigError(f"config: 'rules[{i}] ({rule.name}).supersedes' names '{other}', "
                                  f"{'itself' if other == rule.name else 'no rule'}; choose among "
                                  f"{', '.join(sorted(names - {rule.name}))}.")
    return tuple(out)


def _inputs(raw: Any) -> dict[str, InputSpec]:
    d = _mapping(raw, "inputs")
    _check_keys(d, list(EXPORTS) + ["account_map"], "inputs")
    out = {}
    for name in EXPORTS:
        spec = _mapping(d.get(name), f"inputs.{name}")
        path = f"inputs.{name}"
        _check_keys(spec, ["path", "columns", "values", "date_format", "sep", "encoding", "account_source",
                           "decimal", "timezone"] + (["snapshot_date"] if name == "accounts" else []), path)
        for key in ("path", "date_format", "sep", "encoding", "account_source", "decimal", "timezone"):
            if spec.get(key) is not None and not isinstance(spec[key], str):
                raise ConfigError(f"config: '{path}.{key}' must be a string, got {shown(spec[key])}.")
        columns = _mapping(spec.get("columns"), f"{path}.columns")
        canonical = [c.name for c in EXPORTS[name].columns]
        _check_keys(columns, canonical, f"{path}.columns")
        values = _mapping(spec.get("values"), f"{path}.values")
        _check_keys(values, canonical, f"{path}.values")
        out[name] = InputSpec(
            path=spec.get("path"),
            columns={k: str(v) for k, v in columns.items()},
            values={k: {str(a): (None if b is None else str(b))  # null: the value means "empty"
                        for a, b in _mapping(v, f"{path}.values.{k}").items()}
                    for k, v in values.items()},
            date_format=spec.get("date_format"),
            sep=spec.get("sep"),
            encoding=spec.get("encoding"),
            account_source=spec.get("account_source"),
            snapshot_date=_day(spec.get("snapshot_date"), f"{path}.snapshot_date"),
            decimal=_decimal(spec.get("decimal"), f"{path}.decimal"),
            timezone=_timezone(spec.get("timezone"), f"{path}.timezone"),
        )
    return out


def _decimal(value: str | None, path: str) -> str | None:
    if value is not None and value not in (",", "."):
        raise ConfigError(f"config: '{path}' must be \",\" or \".\", got {value!r}.")
    return value


def _timezone(value: str | None, path: str) -> str | None:
    """An IANA zone name (Europe/Berlin), checked at start; UTC and Z are UTC."""
    if value is None:
        return None
    import zoneinfo
    try:
        zoneinfo.ZoneInfo("UTC" if value.upper() == "Z" else value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"config: '{path}' is not a time zone: {value!r}; use an IANA name such as "
                          "Europe/Berlin or America/New_York.") from None
    return "UTC" if value.upper() == "Z" else value


def _day(value: Any, path: str) -> datetime.date | None:
    """A calendar day from YAML (which reads 2026-11-30 as a date) or from text; None stays None."""
    if value is None or (isinstance(value, datetime.date) and not isinstance(value, datetime.datetime)):
        return value
    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"config: '{path}' must be a date (YYYY-MM-DD), got {value!r}.") from None


def _contract_terms(raw: Any, path: str) -> dict[str, int]:
    """features.contract_terms: plan -> contract term in whole months (>= 1); plans matched in any case."""
    d = _mapping(raw, path)
    out: dict[str, int] = {}
    for plan, months in d.items():
        _typed(months, int, f"{path}.{plan}", minimum=1)
        key = str(plan).lower()
        if key in out:
            raise ConfigError(f"config: '{path}' names plan '{plan}' twice (plans are matched in any case).")
        out[key] = months
    return out


def _account_map(raw: Any) -> AccountMapSpec:
    d = _mapping(raw, "inputs.account_map")
    _check_keys(d, ["path"], "inputs.account_map")
    if d.get("path") is not None and not isinstance(d["path"], str):
        raise ConfigError(f"config: 'inputs.account_map.path' must be a string, got {shown(d['path'])}.")
    return AccountMapSpec(path=d.get("path"))


# ----------------------------------------------------------------------------- vendor presets


def preset_names() -> list[str]:
    """The vendor presets shipped in configs/presets/."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml")) if PRESET_DIR.is_dir() else []


def load_preset(name: str) -> dict[str, Any]:
    """A preset's ``inputs`` mapping (checked like a config's), by name: configs/presets/<name>.yaml."""
    names = preset_names()
    if not isinstance(name, str) or name not in names:
        close = difflib.get_close_matches(str(name), names, n=1, cutoff=0.6)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise ConfigError(f"config: unknown preset '{name}'.{hint} Presets: {', '.join(names) or 'none'}.")
    path = PRESET_DIR / f"{name}.yaml"
    raw = _parse_yaml(path, f"preset '{name}'")
    try:
        d = _mapping(raw, "")
        _check_keys(d, ["description", "inputs"], "")
        _inputs(d.get("inputs"))  # fail here, naming the preset, rather than after merging
    except ConfigError as exc:
        raise ConfigError(f"preset '{name}' ({path}): {exc}") from None
    return _mapping(d.get("inputs"), "inputs")


def _merged(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """``top`` laid over ``base``, mapping by mapping: a key set in ``top`` wins, even when set to null."""
    out = dict(base)
    for key, value in top.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _with_presets(raw: dict[str, Any], extra: tuple[str, ...]) -> dict[str, Any]:
    """The config with its presets' (and ``extra`` presets') inputs merged under its own: config values win."""
    listed = raw.get("presets")
    if listed is not None and (not isinstance(listed, list) or not all(isinstance(n, str) for n in listed)):
        raise ConfigError(f"config: 'presets' must be a list of preset names, got {shown(listed)}.")
    names = tuple(dict.fromkeys([*(listed or []), *extra]))
    if not names:
        return raw
    inputs: dict[str, Any] = {}
    for name in names:
        inputs = _merged(inputs, load_preset(name))
    return {**raw, "presets": list(names), "inputs": _merged(inputs, _mapping(raw.get("inputs"), "inputs"))}


TOP_LEVEL = ["input_dir", "inputs", "windows", "features", "rules", "scoring", "output", "rejects", "model",
             "presets", "limits", "playbook"]


def parse_config(raw: dict[str, Any], *, source: str = "<dict>", base_dir: Path | None = None,
                 presets: tuple[str, ...] = ()) -> Config:
    """Parse an already-loaded YAML mapping into a Config (every key checked). ``presets`` are applied after
    the config's own ``presets`` list; their input mappings lie under the config's."""
    raw = _mapping(raw, "")
    _check_keys(raw, TOP_LEVEL, "")
    raw = _with_presets(raw, tuple(presets))
    windows = _section(Windows, raw.get("windows"), "windows",
                       {"short_days": (int, 1), "long_days": (int, 1)})
    if windows.long_days < windows.short_days:
        raise ConfigError("config: 'windows.long_days' must be >= 'windows.short_days'.")
    features_raw = _mapping(raw.get("features"), "features")
    features = _section(FeatureParams, {k: v for k, v in features_raw.items() if k != "contract_terms"},
                        "features", {
        "key_features": (tuple, None), "login_event": (str, None), "unresolved_days": (int, 0),
        "young_account_days": (int, 1), "nps_silence_days": (int, 1), "ticket_silence_min_prior": (int, 1),
        "late_grace_days": (int, 0), "contract_months": (int, 1), "contract_terms": (dict, None)})
    features = replace(features, contract_terms=_contract_terms(features_raw.get("contract_terms"),
                                                                "features.contract_terms"))
    scoring_raw = _mapping(raw.get("scoring"), "scoring")
    _check_keys(scoring_raw, ["tiers", "rank_by", "revenue_at_risk_tiers"], "scoring")
    tiers = _mapping(scoring_raw.get("tiers"), "scoring.tiers")
    _check_keys(tiers, ["high", "medium"], "scoring.tiers")
    scoring = Scoring(
        tier_high=_typed(tiers.get("high", 60.0), float, "scoring.tiers.high", minimum=0),
        tier_medium=_typed(tiers.get("medium", 30.0), float, "scoring.tiers.medium", minimum=0),
        rank_by=_choice(scoring_raw.get("rank_by", "risk"), ["risk", "revenue"], "scoring.rank_by"),
        revenue_at_risk_tiers=tuple(_choice(t, ["high", "medium", "low"], "scoring.revenue_at_risk_tiers")
                                    for t in _list(scoring_raw.get("revenue_at_risk_tiers", ["high", "medium"]),
                                                   "scoring.revenue_at_risk_tiers")),
    )
    if scoring.tier_medium > scoring.tier_high:
        raise ConfigError("config: 'scoring.tiers.medium' must be <= 'scoring.tiers.high'.")
    output = _section(Output, raw.get("output"), "output",
                      {"path": (str, None), "format": (str, None), "top": (int, 1), "currency": (str, None)})
    _choice(output.format, ["csv", "parquet", "json"], "output.format")
    rejects = _section(Rejects, raw.get("rejects"), "rejects", {"max_reject_rate": (float, 0.0)})
    model = _section(ModelParams, raw.get("model"), "model", {
        "horizon_days": (int, 1), "observation_interval_days": (int, 1), "observation_count": (int, 1),
        "min_history_days": (int, 0), "cv_folds": (int, 2), "cv_max_rows": (int, 100), "c_grid": (tuple, None),
        "class_weight": (str, None), "random_state": (int, 0), "exclude_features": (tuple, None),
        "max_age_days": (int, 1)})
    limits = _section(Limits, raw.get("limits"), "limits", {"field_bytes": (int, 1024)})
    input_dir = raw.get("input_dir")
    if input_dir is not None and not isinstance(input_dir, str):
        raise ConfigError(f"config: 'input_dir' must be a path, got {shown(input_dir)}.")
    return Config(
        source=source,
        base_dir=(base_dir or Path.cwd()).resolve(),
        input_dir=input_dir,
        inputs={name: replace(spec, max_field_bytes=limits.field_bytes)
                for name, spec in _inputs(raw.get("inputs")).items()},
        windows=windows,
        features=features,
        rules=_rules(raw.get("rules")),
        scoring=scoring,
        output=output,
        rejects=rejects,
        model=model,
        raw=raw,
        account_map=_account_map(_mapping(raw.get("inputs"), "inputs").get("account_map")),
        presets=tuple(raw.get("presets") or ()),
        limits=limits,
        playbook=_playbook(raw.get("playbook")),
    )


def _list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise ConfigError(f"config: '{path}' must be a list, got {shown(value)}.")
    return value


def _playbook(raw: Any) -> tuple[PlaySpec, ...]:
    """The playbook: a list of {name, when (a condition, as in rules; optional), play (optional: the heaviest
    reason's play), owner, due_days}; the first entry whose condition holds chooses the play."""
    if raw is None:
        return ()
    out: list[PlaySpec] = []
    for i, item in enumerate(_list(raw, "playbook")):
        d = _mapping(item, f"playbook[{i}]")
        path = f"playbook[{i}] ({d['name']})" if d.get("name") else f"playbook[{i}]"
        _check_keys(d, ["name", "when", "play", "owner", "due_days"], path)
        for key in ("name", "owner", "due_days"):
            if key not in d:
                raise ConfigError(f"config: '{path}' needs '{key}'.")
        play = d.get("play")
        if play is not None and not isinstance(play, str):
            raise ConfigError(f"config: '{path}.play' must be text (or null: the heaviest reason's play).")
        out.append(PlaySpec(str(d["name"]), _condition(d["when"], f"{path}.when") if d.get("when") else None,
                            play, str(d["owner"]), _typed(d["due_days"], int, f"{path}.due_days", minimum=0)))
    if out and out[-1].when is not None:
        raise ConfigError(f"config: the last playbook entry ('{out[-1].name}') needs no 'when': it is the default "
                          "for the accounts no other entry matches.")
    return tuple(out)


def _choice(value: Any, choices: list[str], path: str) -> str:
    if value not in choices:
        raise ConfigError(f"config: '{path}' must be one of {', '.join(choices)}, got {shown(value)}.")
    return value


def _parse_yaml(p: Path, what: str) -> Any:
    """The YAML document at ``p``: at most CONFIG_MAX_BYTES read, parsed by the strict loader (no duplicate
    key, no alias, no nesting deeper than MAX_DEPTH); a ConfigError naming file, line and column otherwise."""
    try:
        data = read_bounded(p, CONFIG_MAX_BYTES)
    except FileNotFoundError:
        raise ConfigError(f"{what}: {p}: no such file. Pass --config PATH, or run 'churnscore init DIR' "
                          "to write a starter config.") from None
    except TooLarge:
        raise ConfigError(f"{what}: {p}: larger than {CONFIG_MAX_BYTES:,} bytes; a config is a few kilobytes "
                          "(is this the right file?).") from None
    except OSError as exc:
        raise ConfigError(f"{what}: {p}: cannot read ({exc.strerror}).") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what}: {p}: not UTF-8 text (byte {exc.start + 1}); save it as UTF-8.") from None
    try:
        return load_yaml(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if isinstance(exc, YamlRefused):
            raise ConfigError(f"{what}: {p}{where}: {problem}.") from None
        raise ConfigError(f"{what}: {p}{where}: not valid YAML ({str(problem)[:SHOWN_CHARS]}).") from None


def load_config(path: str | Path | None = None, presets: tuple[str, ...] = ()) -> Config:
    """Read a YAML config file (default: the repository's configs/default.yaml), plus vendor ``presets``."""
    p = Path(path) if path is not None else DEFAULT_CONFIG
    raw = _parse_yaml(p, "config")
    try:
        return parse_config(raw, source=str(p), base_dir=p.resolve().parent, presets=tuple(presets))
    except ConfigError as exc:
        raise ConfigError(f"{p}: {exc}") from None
