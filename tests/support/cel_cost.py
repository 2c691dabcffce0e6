"""The API server's static cost estimate of `x-kubernetes-validations` rules, replayed offline.

Before it accepts a CRD, the apiextensions-apiserver estimates each rule's worst-case
cost and refuses the CRD when one rule costs more than 10,000,000 or all of them
together more than 100,000,000. This module ports that estimate for the CEL our rules
use, from these upstream sources (read at the commits named):

- k8s.io/apiserver pkg/cel/common/schemas.go (24a394e5): ``SchemaDeclType``, the
  worst-case sizes of strings, lists and maps (``estimateMaxStringLengthPerRequest``,
  ``estimateMaxArrayItemsFromMinSize``, ``estimateMaxAdditionalPropertiesFromMinSize``,
  ``estimateMaxElementsFromMaxLength``: maxLength counts 4 bytes per character);
  pkg/cel/limits.go and pkg/apis/cel/config.go (3 MiB request, minimal JSON sizes);
  pkg/cel/library/cost.go (``isSorted``); pkg/cel/environment/base.go (``has()`` costs 0).
- k8s.io/apiextensions-apiserver pkg/apis/apiextensions/validation (1aa2717a):
  ``StaticEstimatedCostLimit``, ``StaticEstimatedCRDCostLimit``, the cardinality a rule
  is multiplied by (``extractMaxElements``, ``getExpressionCost``; ``maxCardinality``
  in pkg/apiserver/schema/cel/compilation.go) and the messageExpression budget.
- google/cel-go checker/cost.go and common/cost.go (14f6746a): the cost of each
  operator, function and macro (expanded as parser/macro.go expands them).

Where Kubernetes versions differ, the older (larger) estimate is kept, so that a CRD
that passes here passes every supported API server (1.29 and later): an int-or-string
is unbounded whatever its maxLength (bounded only since 1.34), and ``metadata.name`` is
unbounded unless the CRD itself bounds name and generateName (capped at 253 only
since 1.37).

Only what our rules use is modelled. Any other function, operator or syntax raises
:class:`UnsupportedExpressionError`, so a new rule cannot pass unestimated: extend the
estimator from the sources above first.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import lark
from celpy.celparser import CELParser

Schema = Mapping[str, Any]

MAX_REQUEST_SIZE_BYTES = 3 * 1024 * 1024
STATIC_ESTIMATED_COST_LIMIT = 10_000_000
STATIC_ESTIMATED_CRD_COST_LIMIT = 100_000_000
UINT64_MAX = 2**64 - 1

# cel-go common/cost.go
STRING_TRAVERSAL_COST_FACTOR = 0.1
REGEX_STRING_LENGTH_COST_FACTOR = 0.25
LIST_CREATE_BASE_COST = 10
MAP_CREATE_BASE_COST = 30

# k8s.io/apiserver pkg/cel/limits.go: smallest JSON of each kind of value.
MIN_STRING_SIZE = 2
MIN_BOOL_SIZE = 4
MIN_NUMBER_SIZE = 1
MIN_DATETIME_SIZE = 21
MAX_DATETIME_SIZE = 32
MIN_DURATION_SIZE = 3
MAX_DURATION_SIZE = 32
DATE_SIZE = 12


class UnsupportedExpressionError(ValueError):
    """The rule uses CEL this estimator does not model; its cost would be a guess."""


def _add(*values: int) -> int:
    return min(sum(values), UINT64_MAX)


def _mul(x: int, y: int) -> int:
    return min(x * y, UINT64_MAX)


def _by_factor(x: int, factor: float) -> int:
    """cel-go's multiplyByCostFactor: x * factor rounded up, saturating at 2^64 - 1."""
    product = math.ceil(float(x) * factor)
    return UINT64_MAX if product >= 2.0**64 else int(product)


# --- The CEL types the API server derives from a structural schema -------------------------


@dataclass(frozen=True)
class DeclType:
    """A CEL type with the worst-case size of its values (apiserver's ``DeclType``)."""

    kind: str  # object, map, list, string, int, double, bool, dyn, timestamp, duration, bytes
    # Most characters (4 per maxLength character), items or properties a value may hold.
    max_elements: int = 0
    # Fewest bytes a value takes in JSON: what bounds how often it fits in one request.
    min_serialized_size: int = 1
    fields: Mapping[str, DeclType] = field(default_factory=dict)
    elem: DeclType | None = None


# Grammar rules that stand for their operand alone when they have one child (cel-python's
# lark grammar nests every expression through all of them).
_PASSED_THROUGH_WITH_ONE_CHILD = frozenset(
    {"expr", "conditionalor", "conditionaland", "relation", "addition", "multiplication", "unary"}
)

# CEL's reserved words; a property so named is seen by rules as __name__ (apiserver
# pkg/cel/escaping.go), as are the characters below.
_RESERVED = frozenset(
    {"true", "false", "null", "in", "as", "break", "const", "continue", "else", "for"}
    | {"function", "if", "import", "let", "loop", "package", "namespace", "return", "var"}
    | {"void", "while"}
)
_ESCAPES = {"__": "__underscores__", ".": "__dot__", "-": "__dash__", "/": "__slash__"}


def cel_field_name(name: str) -> str:
    """How a rule spells a property (``Escape``): ``namespace`` is ``__namespace__``."""
    if name in _RESERVED:
        return f"__{name}__"
    for character, escaped in _ESCAPES.items():
        name = name.replace(character, escaped)
    return name


def decl_type(schema: Schema, is_resource_root: bool = False) -> DeclType | None:
    """``SchemaDeclType``: the CEL type of a structural schema node, None if CEL cannot see it."""
    if schema.get("x-kubernetes-int-or-string"):
        # Older API servers ignore maxLength here; keep their (larger) estimate.
        return DeclType("dyn", MAX_REQUEST_SIZE_BYTES - 2, 1)
    if is_resource_root:
        schema = _with_type_and_object_meta(schema)
    kind = schema.get("type")
    if kind == "array":
        if "items" not in schema:
            return None
        # An element costs at least its own size and a comma.
        return _collection("list", schema["items"], schema.get("maxItems"), 1)
    if kind == "object":
        if isinstance(schema.get("additionalProperties"), Mapping):
            # An entry costs at least its value, a comma, a colon and a quoted 1-letter key.
            return _collection(
                "map", schema["additionalProperties"], schema.get("maxProperties"), 6
            )
        required = set(schema.get("required", []))
        fields: dict[str, DeclType] = {}
        min_size = 2  # {}
        for name, child in schema.get("properties", {}).items():
            child_type = decl_type(child, bool(child.get("x-kubernetes-embedded-resource")))
            if child_type is None:
                continue
            fields[cel_field_name(name)] = child_type
            # Required fields without a default are always serialized: "name": value,
            if name in required and "default" not in child:
                min_size += len(name) + child_type.min_serialized_size + 4
        return DeclType("object", 0, min_size, fields=fields)
    if kind == "string":
        return _string_type(schema)
    if kind == "boolean":
        return DeclType("bool", 0, MIN_BOOL_SIZE)
    if kind == "number":
        return DeclType("double", 0, MIN_NUMBER_SIZE)
    if kind == "integer":
        return DeclType("int", 0, MIN_NUMBER_SIZE)
    return None


def _collection(
    kind: str, element_schema: Schema, bound: int | None, element_overhead: int
) -> DeclType | None:
    """A list or map: as many elements as its bound allows, else as fit in a whole request."""
    element = decl_type(element_schema)
    if element is None:
        return None
    if bound is None:
        bound = (MAX_REQUEST_SIZE_BYTES - 2) // (element.min_serialized_size + element_overhead)
    return DeclType(kind, max(bound, 0), 2, elem=element)


def _string_type(schema: Schema) -> DeclType:
    unbounded = MAX_REQUEST_SIZE_BYTES - 2  # the whole request but its quotes
    match schema.get("format"):
        case "byte":
            length = schema.get("maxLength")
            return DeclType("bytes", unbounded if length is None else length, MIN_STRING_SIZE)
        case "duration":
            return DeclType("duration", MAX_DURATION_SIZE, MIN_DURATION_SIZE)
        case "date":
            return DeclType("timestamp", DATE_SIZE, DATE_SIZE)
        case "date-time":
            return DeclType("timestamp", MAX_DATETIME_SIZE, MIN_DATETIME_SIZE)
    if "maxLength" in schema:
        max_elements = max(schema["maxLength"], 0) * 4
    elif schema.get("enum"):
        max_elements = max(len(value) for value in schema["enum"] if isinstance(value, str))
    else:
        max_elements = unbounded
    return DeclType("string", max_elements, MIN_STRING_SIZE)


def _with_type_and_object_meta(schema: Schema) -> Schema:
    """apiVersion, kind, metadata.name and metadata.generateName are always visible to rules.

    The schema's own metadata properties are kept only when it declares both name and
    generateName as strings; otherwise the API server substitutes unbounded strings.
    """
    properties = schema.get("properties", {})
    metadata = properties.get("metadata", {}).get("properties", {})
    if all(metadata.get(name, {}).get("type") == "string" for name in ("name", "generateName")):
        own_metadata = properties["metadata"]
        metadata_schema: Schema = {"type": "object", "properties": own_metadata["properties"]}
    else:
        string = {"type": "string"}
        metadata_schema = {"type": "object", "properties": {"name": string, "generateName": string}}
    return {
        **schema,
        "properties": {
            **properties,
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": metadata_schema,
        },
    }


def max_cardinality(min_serialized_size: int) -> int:
    """How often a value this small fits in one request (``maxCardinality``)."""
    return MAX_REQUEST_SIZE_BYTES // (min_serialized_size + 1)


# --- Estimating one expression -----------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    """What the coster knows about one sub-expression."""

    cost: int
    kind: str
    # The schema type when the expression is a path into the object (self.a.b, x.c).
    decl: DeclType | None = None
    # The size CEL computed from the expression itself (literals, concatenation, map()).
    size: int | None = None
    # For lists built in the expression: the worst size of one element.
    elem_size: int | None = None
    elem_kind: str | None = None


_SCALARS = frozenset({"bool", "double", "duration", "int", "timestamp", "uint"})


def _size(value: Estimate) -> int:
    """``sizeOrUnknown``: computed size, else the schema's max elements, else 1 for scalars."""
    if value.size is not None:
        return value.size
    if value.decl is not None:
        return value.decl.max_elements
    if value.kind in _SCALARS:
        return 1
    return UINT64_MAX


def _element(value: Estimate, iterating: bool) -> Estimate:
    """An item of a list; of a map, a key when iterating and a value when indexing."""
    if value.decl is not None and value.decl.elem is not None:
        if value.decl.kind == "map" and iterating:
            # Map keys are typed as the plain StringType, whose max elements are 0.
            return Estimate(0, "string", size=0)
        return Estimate(0, value.decl.elem.kind, decl=value.decl.elem)
    if value.elem_kind is not None:
        return Estimate(0, value.elem_kind, size=value.elem_size)
    raise UnsupportedExpressionError(f"iterating over a {value.kind} of unknown element type")


class _Coster:
    """Walks cel-python's parse tree and adds up cel-go's cost of each node."""

    def __init__(self, self_type: DeclType) -> None:
        self.scopes: list[dict[str, Estimate]] = [{"self": Estimate(0, self_type.kind, self_type)}]

    def cost(self, tree: lark.Tree) -> Estimate:
        handler = getattr(self, f"_{tree.data}", None)
        if handler is None:
            raise UnsupportedExpressionError(f"CEL syntax {tree.data!r} is not estimated")
        children = _trees(tree)
        if tree.data in _PASSED_THROUGH_WITH_ONE_CHILD and len(children) == 1:
            return self.cost(children[0])  # the rule matched its operand alone
        result: Estimate = handler(tree)
        return result

    def _operands(self, tree: lark.Tree) -> tuple[str, Estimate, Estimate]:
        """A binary operator's name and the costs of its left and right operands."""
        operator_tree, right_tree = _trees(tree)
        return operator_tree.data, self.cost(_only_child(operator_tree)), self.cost(right_tree)

    # Grammar rules that only pass their one child through.
    def _passthrough(self, tree: lark.Tree) -> Estimate:
        return self.cost(_only_child(tree))

    def _expr(self, tree: lark.Tree) -> Estimate:
        children = _trees(tree)
        condition, if_true, if_false = (self.cost(child) for child in children)
        size = max(_size(if_true), _size(if_false))
        return Estimate(
            _add(condition.cost, max(if_true.cost, if_false.cost)), if_true.kind, size=size
        )

    def _conditionalor(self, tree: lark.Tree) -> Estimate:
        return self._logical(tree)

    def _conditionaland(self, tree: lark.Tree) -> Estimate:
        return self._logical(tree)

    def _logical(self, tree: lark.Tree) -> Estimate:
        left, right = (self.cost(child) for child in _trees(tree))
        return Estimate(_add(left.cost, right.cost), "bool")  # no cost for && or || itself

    def _relation(self, tree: lark.Tree) -> Estimate:
        operator, left, right = self._operands(tree)
        args = _add(left.cost, right.cost)
        if operator == "relation_in":
            if right.kind == "map":  # a key lookup: O(1)
                return Estimate(_add(1, args), "bool")
            return Estimate(_add(_by_factor(_size(right), 1), args), "bool")
        if operator in ("relation_eq", "relation_ne") or left.kind in ("string", "bytes"):
            # Equality of anything, and ordering of strings: the shorter side is traversed.
            smallest_max = min(_size(left), _size(right))
            return Estimate(
                _add(_by_factor(smallest_max, STRING_TRAVERSAL_COST_FACTOR), args), "bool"
            )
        return Estimate(_add(1, args), "bool")

    def _addition(self, tree: lark.Tree) -> Estimate:
        operator, left, right = self._operands(tree)
        args = _add(left.cost, right.cost)
        if operator == "addition_add" and left.kind in ("string", "bytes", "list"):
            size = _add(_size(left), _size(right))
            if left.kind == "list":
                return Estimate(
                    _add(1, args),
                    "list",
                    size=size,
                    elem_size=max(left.elem_size or 0, right.elem_size or 0),
                    elem_kind=left.elem_kind or right.elem_kind,
                )
            return Estimate(
                _add(_by_factor(size, STRING_TRAVERSAL_COST_FACTOR), args), left.kind, size=size
            )
        return Estimate(_add(1, args), left.kind)

    def _multiplication(self, tree: lark.Tree) -> Estimate:
        _, left, right = self._operands(tree)
        return Estimate(_add(1, left.cost, right.cost), left.kind)

    def _unary(self, tree: lark.Tree) -> Estimate:
        operator, operand_tree = _trees(tree)
        operand = self.cost(operand_tree)
        kind = "bool" if operator.data == "unary_not" else operand.kind
        return Estimate(_add(1, operand.cost), kind)

    _member = _passthrough
    _primary = _passthrough

    def _paren_expr(self, tree: lark.Tree) -> Estimate:
        return self.cost(_only_child(tree))

    def _literal(self, tree: lark.Tree) -> Estimate:
        token = tree.children[0]
        assert isinstance(token, lark.Token)
        kind = {
            "INT_LIT": "int",
            "UINT_LIT": "uint",
            "FLOAT_LIT": "double",
            "BOOL_LIT": "bool",
            "NULL_LIT": "null",
            "STRING_LIT": "string",
            "MLSTRING_LIT": "string",
            "BYTES_LIT": "bytes",
        }[token.type]
        size = 1
        if kind == "string":
            size = len(_string_value(str(token)))
        elif kind == "bytes":
            raise UnsupportedExpressionError("bytes literals are not estimated")
        return Estimate(0, kind, size=size)

    def _ident(self, tree: lark.Tree) -> Estimate:
        name = str(tree.children[0])
        for scope in reversed(self.scopes):
            if name in scope:
                return replace(scope[name], cost=1)
        raise UnsupportedExpressionError(f"unknown variable {name!r}")

    def _list_lit(self, tree: lark.Tree) -> Estimate:
        elements = [self.cost(child) for child in _expressions(tree)]
        return Estimate(
            _add(LIST_CREATE_BASE_COST, *(element.cost for element in elements)),
            "list",
            size=len(elements),
            elem_size=max((_size(element) for element in elements), default=0),
            elem_kind=elements[0].kind if elements else None,
        )

    def _member_dot(self, tree: lark.Tree) -> Estimate:
        operand_tree, name_token = tree.children
        assert isinstance(operand_tree, lark.Tree)
        operand = self.cost(operand_tree)
        return self._select(operand, str(name_token), presence_test=False)

    def _select(self, operand: Estimate, name: str, presence_test: bool) -> Estimate:
        decl = operand.decl
        if decl is None or decl.kind not in ("object", "map"):
            raise UnsupportedExpressionError(f"field {name!r} of a {operand.kind} is not estimated")
        child = decl.fields.get(name) if decl.kind == "object" else decl.elem
        if child is None:
            raise UnsupportedExpressionError(f"no field {name!r} in the schema")
        if presence_test:  # has(): free in Kubernetes, only its operand costs
            return Estimate(operand.cost, "bool")
        return Estimate(_add(operand.cost, 1), child.kind, decl=child)

    def _member_index(self, tree: lark.Tree) -> Estimate:
        container_tree, index_tree = _trees(tree)
        container = self.cost(container_tree)
        index = self.cost(index_tree)
        element = _element(container, iterating=False)
        return replace(element, cost=_add(1, container.cost, index.cost))

    def _ident_arg(self, tree: lark.Tree) -> Estimate:
        name = str(tree.children[0])
        args = _expressions(tree)
        if name == "has":
            [argument] = args
            operand_tree, field_name = _presence_operand(argument)
            return self._select(self.cost(operand_tree), field_name, presence_test=True)
        estimates = [self.cost(arg) for arg in args]
        return self._function(name, None, estimates)

    def _member_dot_arg(self, tree: lark.Tree) -> Estimate:
        target_tree = tree.children[0]
        assert isinstance(target_tree, lark.Tree)
        name = str(tree.children[1])
        args = _expressions(tree)
        if name in _MACROS:
            return self._macro(name, self.cost(target_tree), args)
        target = self.cost(target_tree)
        return self._function(name, target, [self.cost(arg) for arg in args])

    def _function(self, name: str, target: Estimate | None, args: list[Estimate]) -> Estimate:
        """A call: its own cost (cel-go functionCost, Kubernetes' library) plus its operands."""
        operands = _add(*(arg.cost for arg in args), target.cost if target else 0)
        receiver = target if target is not None else (args[0] if args else None)
        if name == "size" and receiver is not None:
            return Estimate(_add(1, operands), "int")
        if name in _CONVERSIONS and len(args) == 1 and not target:
            # O(1) conversions; a converted string's length is unknown to CEL.
            return Estimate(_add(1, operands), _CONVERSIONS[name])
        if target is None:
            raise UnsupportedExpressionError(f"function {name}() is not estimated")
        if name in ("startsWith", "endsWith") and len(args) == 1:
            own = _by_factor(_size(args[0]), STRING_TRAVERSAL_COST_FACTOR)
            return Estimate(_add(own, operands), "bool")
        if name == "contains" and len(args) == 1:
            text = _by_factor(_size(target), STRING_TRAVERSAL_COST_FACTOR)
            substring = _by_factor(_size(args[0]), STRING_TRAVERSAL_COST_FACTOR)
            return Estimate(_add(_mul(text, substring), operands), "bool")
        if name == "matches" and len(args) == 1:
            text = _by_factor(_add(_size(target), 1), STRING_TRAVERSAL_COST_FACTOR)
            regex = _by_factor(_size(args[0]), REGEX_STRING_LENGTH_COST_FACTOR)
            return Estimate(_add(_mul(text, regex), operands), "bool")
        if name == "isSorted" and not args and target.kind == "list":
            # Kubernetes' list library: one comparison per element, strings traversed.
            element = _element(target, iterating=False)
            per_element = 1
            if element.kind in ("string", "bytes"):
                per_element += _by_factor(_size(element), STRING_TRAVERSAL_COST_FACTOR)
            return Estimate(_add(_mul(_size(target), per_element), operands), "bool")
        raise UnsupportedExpressionError(f"function {name}() is not estimated")

    def _macro(self, name: str, target: Estimate, args: list[lark.Tree]) -> Estimate:
        """A comprehension as parser/macro.go expands it, costed as costComprehension does."""
        if len(args) != 2:
            raise UnsupportedExpressionError(
                f"{name}() with {len(args)} arguments is not estimated"
            )
        variable = _identifier(args[0])
        element = _element(target, iterating=True)
        self.scopes.append({variable: element})
        try:
            body = self.cost(args[1])
        finally:
            self.scopes.pop()
        count = _size(target)
        accumulator = 1  # reading the accumulator variable
        if name == "all":  # init true; loop while @not_strictly_false(accu); accu && p
            init, result, loop, step = 0, accumulator, 1 + accumulator, _add(accumulator, body.cost)
        elif name == "exists":  # init false; @not_strictly_false(!accu); accu || p
            init, result, loop, step = 0, accumulator, 2 + accumulator, _add(accumulator, body.cost)
        elif name == "exists_one":  # init 0; p ? accu + 1 : accu; result accu == 1
            init, result, loop = 0, _add(1, accumulator), 0
            step = _add(body.cost, max(_add(1, accumulator), accumulator))
        elif name == "map":  # init []; accu + [f(x)]
            init, result, loop = LIST_CREATE_BASE_COST, accumulator, 0
            step = _add(1, accumulator, LIST_CREATE_BASE_COST, body.cost)
        else:  # filter: init []; p ? accu + [x] : accu
            init, result, loop = LIST_CREATE_BASE_COST, accumulator, 0
            append = _add(1, accumulator, LIST_CREATE_BASE_COST, 1)
            step = _add(body.cost, max(append, accumulator))
        cost = _add(target.cost, init, result, _mul(count, _add(loop, step)))
        if name == "map":
            return Estimate(cost, "list", size=count, elem_size=_size(body), elem_kind=body.kind)
        if name == "filter":
            # cel-go's element sizes of a filtered list follow quirks not modelled here, so
            # iterating over the result is refused (see _element); its size is known.
            return Estimate(cost, "list", size=count)
        return Estimate(cost, "bool")


_MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
_CONVERSIONS = {
    "string": "string",
    "int": "int",
    "uint": "uint",
    "double": "double",
    "bool": "bool",
    "duration": "duration",
    "timestamp": "timestamp",
}


def _trees(tree: lark.Tree) -> list[lark.Tree]:
    return [child for child in tree.children if isinstance(child, lark.Tree)]


def _only_child(tree: lark.Tree) -> lark.Tree:
    [child] = _trees(tree)
    return child


def _expressions(tree: lark.Tree) -> list[lark.Tree]:
    """The arguments of a call or the elements of a list literal."""
    for child in _trees(tree):
        if child.data == "exprlist":
            return _trees(child)
    return []


_PRECEDENCE_LEVELS = frozenset(
    {"expr", "conditionalor", "conditionaland", "relation", "addition", "multiplication"}
    | {"unary", "member", "primary"}
)


def _descend(tree: lark.Tree) -> lark.Tree:
    """Skip the single-child precedence levels down to the interesting node."""
    while tree.data in _PRECEDENCE_LEVELS and len(_trees(tree)) == 1:
        tree = _trees(tree)[0]
    return tree


def _identifier(tree: lark.Tree) -> str:
    node = _descend(tree)
    if node.data != "ident":
        raise UnsupportedExpressionError("a macro's first argument must be a simple name")
    return str(node.children[0])


def _presence_operand(tree: lark.Tree) -> tuple[lark.Tree, str]:
    node = _descend(tree)
    if node.data != "member_dot":
        raise UnsupportedExpressionError("has() needs a field selection")
    operand, name = node.children
    assert isinstance(operand, lark.Tree)
    return operand, str(name)


def _string_value(literal: str) -> str:
    """The characters of a CEL string literal (our rules use no escapes but quotes)."""
    raw = literal[1:] if literal[0] in "rR" else literal
    quote = raw[:3] if raw[:3] in ('"""', "'''") else raw[0]
    body = raw[len(quote) : -len(quote)]
    if "\\" in body and literal[0] not in "rR":
        raise UnsupportedExpressionError(f"escapes in {literal} are not estimated")
    return body


_PARSER = CELParser()


def estimate_rule_cost(rule: str, self_type: DeclType) -> int:
    """The worst-case cost of one evaluation of ``rule`` with ``self`` of ``self_type``."""
    try:
        tree = _PARSER.parse(rule)
    except Exception as error:
        raise UnsupportedExpressionError(f"cannot parse {rule!r}: {error}") from error
    return _Coster(self_type).cost(tree).cost


# --- Every rule of a CRD, as the API server walks it -----------------------------------------


@dataclass(frozen=True)
class RuleCost:
    """One rule's (or messageExpression's) estimated cost in the CRD."""

    path: str
    expression: str
    kind: str  # rule or messageExpression
    # The cost of one evaluation, and how often it may run (None: not multiplied).
    per_call: int
    cardinality: int | None
    cost: int


def crd_rule_costs(root: Schema) -> list[RuleCost]:
    """The cost of every rule in an openAPIV3Schema, each times how often it may run."""
    return list(_walk(root, "", decl_type(root, is_resource_root=True), 1))


def _walk(
    schema: Schema, path: str, decl: DeclType | None, cardinality: int | None
) -> Iterator[RuleCost]:
    if decl is not None:
        # Inside a list or map without a bound, a rule runs as often as its node fits a request.
        times = (
            cardinality if cardinality is not None else max_cardinality(decl.min_serialized_size)
        )
        for entry in schema.get("x-kubernetes-validations", []):
            per_call = estimate_rule_cost(entry["rule"], decl)
            where = path or "<root>"
            yield RuleCost(where, entry["rule"], "rule", per_call, times, _mul(per_call, times))
            if "messageExpression" in entry:
                message_cost = estimate_rule_cost(entry["messageExpression"], decl)
                yield RuleCost(
                    where, entry["messageExpression"], "messageExpression", message_cost, None,
                    message_cost,
                )  # fmt: skip
    child_cardinality = _child_cardinality(schema, cardinality)
    for name, child in schema.get("properties", {}).items():
        is_object = decl is not None and decl.kind == "object"
        child_decl = decl.fields.get(cel_field_name(name)) if is_object else None
        yield from _walk(child, f"{path}.{name}", child_decl, child_cardinality)
    if isinstance(schema.get("items"), Mapping):
        child_decl = decl.elem if decl is not None else None
        yield from _walk(schema["items"], f"{path}[]", child_decl, child_cardinality)
    if isinstance(schema.get("additionalProperties"), Mapping):
        child_decl = decl.elem if decl is not None else None
        yield from _walk(
            schema["additionalProperties"], f"{path}{{}}", child_decl, child_cardinality
        )


def _child_cardinality(schema: Schema, cardinality: int | None) -> int | None:
    """``extractMaxElements``: lists and maps multiply by their bound, or make it unbounded."""
    if cardinality is None:
        return None
    if schema.get("type") == "array":
        bound = schema.get("maxItems")
    elif schema.get("type") == "object" and isinstance(schema.get("additionalProperties"), Mapping):
        bound = schema.get("maxProperties")
    else:
        return cardinality
    return None if bound is None else _mul(cardinality, max(bound, 0))
