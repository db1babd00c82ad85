"""The promotion policy: which checks a model version must pass to take an alias.

By default a *production-class* alias (``champion``, ``production``, ``prod``) needs all three:

* ``trusted-signature``: the package is signed by a key in the trust store, verified at the time
  of the move (not merely recorded at registration);
* ``scanner-safe``: the model-file scanner judged every file ``safe``;
* ``blessing``: a passing Blessing from evaluation is attached to the version.

Any other alias (``staging``, ``challenger`` ...) needs only ``scanner-safe`` (checksums are
always verified). Rules are dataclasses, built in code or loaded from a ``promotion`` section of a
YAML or TOML file::

    promotion:
      production_aliases: [champion, production, prod]
      production: {require_trusted_signature: true, require_safe_scan: true, require_blessing: true}
      other: {require_trusted_signature: false, require_safe_scan: true, require_blessing: false}
      aliases:
        canary: {require_blessing: true}
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from loopml.errors import InvalidInput, NotFound, PolicyViolation

__all__ = [
    "DEFAULT_PRODUCTION_ALIASES",
    "AliasRequirements",
    "PromotionPolicy",
    "VersionFacts",
    "Violation",
]

DEFAULT_PRODUCTION_ALIASES = frozenset({"champion", "production", "prod"})
_FIELDS = ("require_trusted_signature", "require_safe_scan", "require_blessing")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class AliasRequirements:
    """The checks an alias demands of the version it points at."""

    require_trusted_signature: bool = False
    require_safe_scan: bool = True
    require_blessing: bool = False

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Any], *, base: AliasRequirements, where: str
    ) -> AliasRequirements:
        """``base`` with the keys of ``data`` applied; unknown keys and non-booleans are refused."""
        if not isinstance(data, Mapping):
            raise InvalidInput(
                f"Promotion policy {where} must be a mapping of {', '.join(_FIELDS)} to true/false."
            )
        unknown = sorted(set(data) - set(_FIELDS))
        if unknown:
            raise InvalidInput(
                f"Promotion policy {where} has unknown key(s) {unknown}; valid keys: {', '.join(_FIELDS)}."
            )
        for key, value in data.items():
            if not isinstance(value, bool):
                raise InvalidInput(f"Promotion policy {where}.{key} must be true or false; got {value!r}.")
        return dataclasses.replace(base, **dict(data))


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class VersionFacts:
    """What is known about a version when an alias move is judged.

    Attributes:
        name: Model name.
        version: Version number.
        signer: Name of the trusted key whose signature verified just now, or None.
        is_signed: Whether the package carries a signature at all.
        scan_verdict: The scanner's verdict over every file.
        blessing_passed: Whether the attached Blessing passed (None: none attached).
    """

    name: str
    version: int
    signer: str | None
    is_signed: bool
    scan_verdict: str
    blessing_passed: bool | None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Violation:
    """One broken rule and how to satisfy it."""

    rule: str
    message: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PromotionPolicy:
    """Requirements per alias: production-class aliases, everything else, and per-alias overrides.

    Example:
        >>> policy = PromotionPolicy()
        >>> policy.requirements_for("champion").require_blessing
        True
        >>> policy.requirements_for("staging").require_blessing
        False
    """

    production_aliases: frozenset[str] = DEFAULT_PRODUCTION_ALIASES
    production: AliasRequirements = AliasRequirements(
        require_trusted_signature=True, require_safe_scan=True, require_blessing=True
    )
    other: AliasRequirements = AliasRequirements()
    overrides: Mapping[str, AliasRequirements] = dataclasses.field(default_factory=dict)

    def is_production(self, alias: str) -> bool:
        """Whether ``alias`` is production-class."""
        return alias in self.production_aliases

    def requirements_for(self, alias: str) -> AliasRequirements:
        """The requirements of ``alias`` (a per-alias override wins)."""
        if alias in self.overrides:
            return self.overrides[alias]
        return self.production if self.is_production(alias) else self.other

    def violations(self, alias: str, facts: VersionFacts) -> list[Violation]:
        """Every rule ``facts`` break for ``alias`` (empty: the move is allowed)."""
        needs = self.requirements_for(alias)
        kind = "a production alias" if self.is_production(alias) else "this alias"
        subject = f"Version {facts.version} of {facts.name!r}"
        found: list[Violation] = []
        if needs.require_trusted_signature and facts.signer is None:
            how = (
                "it is signed, but not by a key in the trust store: "
                "`loopml keys trust` the signer's public key"
                if facts.is_signed
                else "sign the package (`loopml models sign PATH --key KEY`), trust the key "
                "(`loopml keys trust`), and register the signed package as a new version"
            )
            found.append(
                Violation(
                    rule="trusted-signature",
                    message=f"{subject} is not signed by a trusted key, which {kind} {alias!r} "
                    f"requires: {how}.",
                )
            )
        if needs.require_safe_scan and facts.scan_verdict != "safe":
            found.append(
                Violation(
                    rule="scanner-safe",
                    message=f"{subject} has scanner verdict {facts.scan_verdict!r}; {kind} {alias!r} "
                    "requires "
                    "'safe'. `loopml scan` shows the findings; re-package in a safe format.",
                )
            )
        if needs.require_blessing and facts.blessing_passed is not True:
            state = "a failed Blessing" if facts.blessing_passed is False else "no Blessing"
            found.append(
                Violation(
                    rule="blessing",
                    message=f"{subject} carries {state} from evaluation; {kind} {alias!r} requires a passing "
                    "one. Evaluate it against its thresholds and attach the result "
                    f"(`loopml models register ... --blessing EVAL.json`, or attach_blessing).",
                )
            )
        return found

    def enforce(self, alias: str, facts: VersionFacts) -> None:
        """Raise :class:`PolicyViolation` naming every broken rule, or return."""
        found = self.violations(alias, facts)
        if found:
            raise PolicyViolation(
                " ".join(f"Rule {v.rule!r}: {v.message}" for v in found), rules=tuple(v.rule for v in found)
            )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> PromotionPolicy:
        """Build a policy from a mapping (the ``promotion`` section, or a mapping holding it).

        Raises:
            InvalidInput: unknown keys or values of the wrong type, named.
        """
        section = data.get("promotion", data) if isinstance(data, Mapping) else data
        if not isinstance(section, Mapping):
            raise InvalidInput(f"The promotion policy must be a mapping; got {type(section).__name__}.")
        unknown = sorted(set(section) - {"production_aliases", "production", "other", "aliases"})
        if unknown:
            raise InvalidInput(
                f"Promotion policy has unknown key(s) {unknown}; "
                "valid: production_aliases, production, other, aliases."
            )
        default = cls()
        names = section.get("production_aliases", sorted(default.production_aliases))
        if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
            raise InvalidInput(
                f"Promotion policy production_aliases must be a list of alias names; got {names!r}."
            )
        production = AliasRequirements.from_mapping(
            section.get("production", {}), base=default.production, where="production"
        )
        other = AliasRequirements.from_mapping(section.get("other", {}), base=default.other, where="other")
        overrides_raw = section.get("aliases", {})
        if not isinstance(overrides_raw, Mapping):
            raise InvalidInput("Promotion policy aliases must map alias names to requirements.")
        production_set = frozenset(names)
        overrides = {
            str(alias): AliasRequirements.from_mapping(
                value, base=production if alias in production_set else other, where=f"aliases.{alias}"
            )
            for alias, value in overrides_raw.items()
        }
        return cls(production_aliases=production_set, production=production, other=other, overrides=overrides)

    @classmethod
    def load(cls, path: Path | str) -> PromotionPolicy:
        """Read a policy from a YAML (``.yaml``/``.yml``) or TOML (``.toml``) file.

        Raises:
            NotFound: no such file.
            InvalidInput: the file cannot be parsed or holds a bad policy.
        """
        source = Path(path)
        if not source.is_file():
            raise NotFound(f"No promotion policy file at {source}.")
        text = source.read_text(encoding="utf-8")
        try:
            data = tomllib.loads(text) if source.suffix == ".toml" else yaml.safe_load(text)
        except (tomllib.TOMLDecodeError, yaml.YAMLError) as err:
            raise InvalidInput(f"Cannot parse the promotion policy {source}: {err}") from err
        if isinstance(data, Mapping) and isinstance(data.get("loopml"), Mapping):
            data = data["loopml"]
        return cls.from_mapping(data or {})
