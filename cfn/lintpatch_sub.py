"""Patch of cfn-lint's Fn::Sub rule (E1019, `Sub._validate_string`, in the rule file
`functions/Sub.py`): a `${AWS::Region}`-style pseudo parameter in a string is not validated as a
`{"Ref": "AWS::Region"}` where that validation can find nothing.

For each `${name}` of a Sub string, cfn-lint 1.58 validates `{"Ref": name}` against
`{"type": ["string"]}`: the whole Ref rule (E1020) runs, with its validator copies, a new
resolver, the `ref.json` schema and a list of every name a Ref may name, built and sorted
again at each call (`Context.refs`). The IAM policies of `bootstrap.json` hold about 320 such
pseudo parameters: this was about a third of its lint (instructions counted with cachegrind).

For a name in cfn-lint's `PSEUDOPARAMS_SINGLE` (AWS::Region, AWS::AccountId, ...) that is a
pseudo parameter of the context, and neither a parameter nor a resource of the template, that
Ref yields no error when (all read at the call):
- the context is not in "unresolvable function" mode (else an "unknown" error is made);
- `Ref` is one of the context's functions (else the object is checked as a string, and fails);
- the validator's `ref` keyword is E1020's `Ref.ref`, with the code we read, and so are the
  methods it calls (as the rule's class resolves them: an override is seen), its schema and the
  functions of cfn-lint it relies on (`_has_schema_constraints`, `Context.refs`, the
  `dynamicValidation` and `cfnContext` keywords, `is_types_compatible`). It checks that the
  output type fits (a Ref may be any type), that the name is one of `Context.refs` (it is: a
  pseudo parameter), resolves nothing (the schema constrains no value), and finds its type, a
  string, fits the schema;
- E1020's child rules are the ones we read: W1030 is not run here (it has no `keywords`); W2010,
  W1011 and W2506 report only names that are parameters, and E1041 only names that are
  resources. A child rule we did not read (one a project adds, say) cancels the shortcut.
The verdict on the rule is read again whenever anything it was read from is another object:
the rule's functions, their code, its schema, its child rules' classes and their code.

The replacement keeps such names out of the string it gives cfn-lint's own `_validate_string`,
which validates each remaining `${...}` exactly as before. That method reads the string only to
find those names (the same pattern finds the same names in the rebuilt string: after its first
character a name holds no `}` and no line break, and it starts and ends with no space). A string
with none left is not validated at all. The findings are the same for every template cfn-lint
validates without reaching Python's recursion limit (see `cfn.lintpatch`). Applied only when
`_validate_string` is the code we read. The upstream change: the same test in
`Sub._validate_string`, or `Context.refs` kept rather than rebuilt per call.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any

from cfn.lintpatch import RulePatch, is_the_one_we_read

VALIDATE_STRING_DIGEST = "e69137077bf1074b20cc033876fbb92362966bc2fc245646630c2dc870fffe74"
REF_DIGEST = "43f8ff46b5aa3ba9e60937c2555a94f67b04085e32784d11a4332fa7644f19e1"
REF_SCHEMA_DIGEST = "248495f701e041af53318d9b75786eae9de14e8b9eb9b018283701872c60d9b5"
READ_FUNCTIONS = {  # cfn-lint's functions the reasoning relies on: (module, name) -> digest
    ("cfnlint.rules.functions._BaseFn", "_has_schema_constraints"): (
        "a2b9576c924ffb878b550d67a8d8f5d31ebb9fca88a22be896eaa8d62ea2015b"
    ),
    ("cfnlint.jsonschema._keywords_cfn", "dynamicValidation"): (
        "1342195d6ee7664e48ee3ba4735c25b9e3bd9e9c1399fe5aae84d7c3abe44f39"
    ),
    ("cfnlint.jsonschema._keywords_cfn", "cfnContext"): (
        "48ff8798701216eca613e2a17c67a9ad305b558d4719436062f145cb5cb3ae12"
    ),
    ("cfnlint.helpers", "is_types_compatible"): (
        "a3a5de49d0e0c924b21990592d5affd50663fdfd850881c416d79d1213f1f01a"
    ),
}
REFS_DIGEST = "5ae305a36ef90b74730a172daacfdbe568e793821f7e2fd57a1764c08c9fa094"  # Context.refs
BASE_FN_DIGESTS = {
    "resolve_type": "540daa230f6016ba6605a1253683cc438601f37a77b2c6624688b714c4858fde",
    "validate": "923e7315b5cc4a6f4639a9de263357f159d26453cea1b3d341ff7ccb26815a46",
    "validate_fn_output_types": "7e942af9fd444eb6f036a9c9a34bc6e9c6d3c5bbb74beba03a16434a4d0fce5f",
    "resolve": "446c7fe67384c93551c5d655fc431e8a32ff4085311f32bb4ac6eafce27aeaea",
    "validator": "b3fab4f2155a37fee9f73916213c2236abba0926e6de52887560b6171100321c",
    "key_value": "1f0d072da0588b350daa2f82d4fefbc552645bd6d499c3d925444d0427ba5a34",
    "schema": "2ffd958acf92b4e50b8f9b6a912f8b32b801c64713c19ea5d930fb3a936f1e38",
    "fix_errors": "bf149008e45f197cc64dba4234184fc2ddd762edc3a20ccedf6e60603a6b56ec",
}
# E1020's child rules: the digest of their `validate`; None: one run by no path taken here.
CHILD_DIGESTS: dict[str, str | None] = {
    "W1030": None,
    "W2010": "ab3fb3643df103800cd608f0ff9c31045583ae558517227f5acc5a40a4f32120",
    "W1011": "e4418e32aceb98e1a726a68f6ab3a9161d356414ae49a9e54cd2564fc177df94",
    "W2506": "4f0943ad73b4bda7bfd1fd9ad70e7d0332c15b3dcf357aacbf2844955e8abab8",
    "E1041": "4f1c3befb19e34e6e592dcf276e3bd7209bed48f8fc16a63138ed81b419af474",
}


def _schema_digest(schema: Any) -> str:
    return hashlib.sha256(json.dumps(schema, sort_keys=True).encode()).hexdigest()


def _child_read(rule_id: str, child: Any) -> bool:
    if child is None:
        return True  # not loaded or not wired: the loop skips it
    if rule_id not in CHILD_DIGESTS or getattr(child, "id", None) != rule_id:
        return False
    digest = CHILD_DIGESTS[rule_id]
    if digest is None:  # the resolved-value rule: run only through `resolve`, never here
        return not hasattr(child, "keywords")
    return is_the_one_we_read(type(child).__dict__.get("validate"), digest)


def _resolved(cls: type, name: str) -> Any:
    """What `cls` finds for `name` (the first class of its MRO that defines it), unbound."""
    for klass in cls.__mro__:
        if name in klass.__dict__:
            return klass.__dict__[name]
    return None


def _code(found: Any) -> Any:
    return getattr(found, "__code__", found)


def _signature(ref: Any) -> tuple[Any, ...] | None:
    """Everything `ref_rule_read` reads, by identity (the rule and its schema by id: neither
    can be hashed; the caller checks they are the same objects)."""
    owner = getattr(ref, "__self__", None)
    func = getattr(ref, "__func__", None)
    children = getattr(owner, "child_rules", None)
    if func is None or not isinstance(children, dict):
        return None
    cls = type(owner)
    return (
        id(owner),
        func,
        _code(func),
        *(_code(_resolved(cls, name)) for name in BASE_FN_DIGESTS),
        id(getattr(owner, "_schema", None)),
        tuple(getattr(owner, "_all_refs", None) or ()),
        *(
            (k, type(v), _code(_resolved(type(v), "validate")), hasattr(v, "keywords"))
            for k, v in children.items()
        ),
    )


def _functions_read() -> bool:
    import importlib

    from cfnlint.context.context import Context

    for (module, name), digest in READ_FUNCTIONS.items():
        if not is_the_one_we_read(getattr(importlib.import_module(module), name, None), digest):
            return False
    return is_the_one_we_read(getattr(Context.__dict__.get("refs"), "fget", None), REFS_DIGEST)


def ref_rule_read(ref: Any) -> bool:
    """Whether the `ref` keyword's function is E1020's `Ref.ref` as we read it (with the BaseFn
    methods, schema and child rules it runs)."""
    owner = getattr(ref, "__self__", None)
    cls = type(owner)
    if getattr(owner, "id", None) != "E1020" or getattr(ref, "__func__", None) is not (
        cls.__dict__.get("ref")
    ):
        return False
    if not is_the_one_we_read(cls.__dict__.get("ref"), REF_DIGEST):
        return False
    if any(
        not is_the_one_we_read(_resolved(cls, name), digest)
        for name, digest in BASE_FN_DIGESTS.items()
    ):
        return False
    if getattr(owner, "_all_refs", None) != ["W2010"]:
        return False
    if _schema_digest(getattr(owner, "_schema", None)) != REF_SCHEMA_DIGEST:
        return False
    return all(_child_read(k, v) for k, v in owner.child_rules.items())


def _validate_string(original: Callable[..., Any]) -> Callable[..., Any] | None:
    from cfnlint.helpers import PSEUDOPARAMS_SINGLE

    found = original.__globals__.get("re")
    pattern = original.__globals__.get("REGEX_SUB_PARAMETERS")
    if found is None or pattern is None or not _functions_read():
        return None
    findall = found.findall
    single = frozenset(PSEUDOPARAMS_SINGLE)
    verdicts: dict[tuple[Any, ...], tuple[Any, Any, bool]] = {}

    def checked(validator: Any) -> bool:
        ref = validator.validators.get("ref")
        if ref is None:
            return True  # no Ref keyword: the Ref object is not validated at all
        key = _signature(ref)
        if key is None:
            return False
        owner = ref.__self__
        schema = getattr(owner, "_schema", None)
        known = verdicts.get(key)
        if known is None or known[0] is not owner or known[1] is not schema:
            if len(verdicts) >= 64:  # rule sets loaded again (--watch): the old ones go
                verdicts.clear()
            known = verdicts[key] = (owner, schema, ref_rule_read(ref))
        return known[2]

    def inert(name: str, context: Any, sub_values: Any) -> bool:
        name = name.strip()
        if "." in name:
            return False  # a GetAtt
        if name in sub_values:
            return True  # cfn-lint's own code skips it
        return (
            name in single
            and name in context.pseudo_parameters
            and name not in context.parameters
            and name not in context.resources
        )

    def validate_string(
        self: Any, validator: Any, key: str, instance: Any, sub_values: Any
    ) -> Iterator[Any]:
        names = findall(pattern, instance)
        context = validator.context
        if (
            names
            and not context.unresolvable_function_mode
            and "Ref" in context.functions
            and checked(validator)
        ):
            kept = [n for n in names if not inert(n, context, sub_values)]
            if len(kept) < len(names):
                if kept:
                    rebuilt = "".join("${" + n + "}" for n in kept)
                    yield from original(self, validator, key, rebuilt, sub_values)
                return
        yield from original(self, validator, key, instance, sub_values)

    return validate_string


PATCHES = [
    RulePatch("sub-pseudo", "E1019", "_validate_string", VALIDATE_STRING_DIGEST, _validate_string)
]
