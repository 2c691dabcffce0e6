"""The chart's ValidatingAdmissionPolicies refuse, at apply, exactly the images and
ServiceAccounts outside `policy.allowedImages` and `policy.allowedServiceAccounts`.

Every CEL expression the chart renders (variables, validations, messageExpressions) is
evaluated with cel-python, bound as the API server binds it (admission_replay.py), against
ModelDeployments and RetrainJobs built from crds/samples/: each sample is allowed under a
list that names its image, and variants with other images or ServiceAccounts are refused
with a message that says what to fix. An update that keeps the old value passes, so objects
created before a list tightened can still be changed and deleted. The worst-case cost of
every expression, by the API server's own estimator (tests/conformance/cel/cel_cost.py)
typed with the CRD's schema, stays within the per-expression limit and the per-binding
budget a VAP is evaluated under.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import admission_replay as admission
from support import cel_cost

REPO = Path(__file__).resolve().parents[3]
SAMPLES = REPO / "crds" / "samples"
GROUP, VERSION = "modelship.dev", "v1alpha1"
PLURALS = {"ModelDeployment": "modeldeployments", "RetrainJob": "retrainjobs"}

# Lists that name every sample's image and ServiceAccount, each entry form used once.
ALLOWED = {
    "allowedImages": [
        "ghcr.io/modelship/",  # a path: the default serving image is under it
        "ghcr.io/example/",
        "registry.example.com/ml/",
        "registry.example.com/risk/credit-trainer",  # one repository, any tag or digest
    ],
    "allowedServiceAccounts": ["risk-trainer"],
}
IMAGES = ", ".join(ALLOWED["allowedImages"])
IMAGE_HINT = (
    " is not an image this cluster allows: name one under " + IMAGES + " (the modelship "
    "chart's policy.allowedImages)"
)
ACCOUNT_HINT = (
    " is not a ServiceAccount trainers may run as here: leave it out, or name one of "
    "risk-trainer (the modelship chart's policy.allowedServiceAccounts)"
)
IMAGE_FIELD = {"ModelDeployment": ("serving", "image"), "RetrainJob": ("template", "image")}

# Per expression, at run time (k8s.io/apiserver pkg/apis/cel/config.go PerCallLimit), and
# for all expressions of one binding on one request (RuntimeCELCostBudget). A VAP is not
# refused for its static estimate at creation; these are the limits an evaluation that
# passed them would fail under, with failurePolicy Fail refusing the object.
PER_CALL_LIMIT = 1_000_000
RUNTIME_BUDGET = 10_000_000

Rendered = dict[str, dict[str, Any]]


def samples(kind: str) -> dict[str, dict[str, Any]]:
    found = {}
    for path in sorted(SAMPLES.glob("*.yaml")):
        obj = yaml.safe_load(path.read_text())
        if obj["kind"] == kind:
            found[path.stem] = obj
    assert found, f"no {kind} sample"
    return found


def with_image(obj: dict[str, Any], image: str) -> dict[str, Any]:
    changed = copy.deepcopy(obj)
    parent, key = IMAGE_FIELD[obj["kind"]]
    changed["spec"].setdefault(parent, {})[key] = image
    return changed


def with_account(obj: dict[str, Any], account: str | None) -> dict[str, Any]:
    changed = copy.deepcopy(obj)
    changed["spec"]["template"].pop("serviceAccountName", None)
    if account is not None:
        changed["spec"]["template"]["serviceAccountName"] = account
    return changed


@pytest.fixture(scope="module")
def allowed(render_policy: Callable[[dict[str, Any]], Rendered]) -> Rendered:
    return render_policy(ALLOWED)


@pytest.fixture
def decide(replay: Any, crd_schemas: dict[str, dict[str, Any]]) -> Callable[..., Any]:
    """The decision of the rendered policies on a CREATE (or, given `old`, an UPDATE)."""

    def _decide(rendered: Rendered, obj: dict[str, Any], old: dict[str, Any] | None = None) -> Any:
        plural = PLURALS[obj["kind"]]
        request = admission.Request(
            operation="CREATE" if old is None else "UPDATE",
            group=GROUP,
            version=VERSION,
            resource=plural,
            kind=obj["kind"],
            obj=obj,
            old=old,
        )
        entry = rendered[plural]
        return admission.admit(
            replay, entry["policy"], entry["binding"], crd_schemas[plural], request
        )

    return _decide


@pytest.mark.parametrize("kind", sorted(PLURALS))
def test_every_sample_is_allowed_under_lists_that_name_it(
    allowed: Rendered, decide: Callable[..., Any], kind: str
) -> None:
    for name, obj in samples(kind).items():
        decision = decide(allowed, obj)
        assert decision.matched, name
        assert decision.refusals == [], name


@pytest.mark.parametrize(
    ("image", "why"),
    [
        ("docker.io/attacker/miner:1", "another registry"),
        ("ghcr.io/modelship-evil/tritonserver:1", "a path that only starts like an allowed one"),
        ("registry.example.com/risk/credit-trainer-evil:1", "a repository that extends one"),
        ("registry.example.com/risk/other:1", "beside an allowed repository"),
        ("tritonserver:24.10", "a short name is not the registry it may resolve to"),
        ("ghcr.io/modelship", "the path itself, with no image under it"),
    ],
)
@pytest.mark.parametrize("kind", sorted(PLURALS))
def test_an_image_outside_the_list_is_refused_naming_it_and_the_list(
    allowed: Rendered, decide: Callable[..., Any], kind: str, image: str, why: str
) -> None:
    field = ".".join(("spec", *IMAGE_FIELD[kind]))
    for name, obj in samples(kind).items():
        decision = decide(allowed, with_image(obj, image))
        assert decision.denied, f"{name}: {why}"
        assert decision.refusals == [f'{field} "{image}"{IMAGE_HINT}'], name


@pytest.mark.parametrize(
    "image",
    [
        "registry.example.com/risk/credit-trainer",
        "registry.example.com/risk/credit-trainer:2.0.2",
        "registry.example.com/risk/credit-trainer@sha256:" + "ab" * 32,
        "registry.example.com/ml/team/deep/trainer:1",
        "ghcr.io/modelship/tritonserver:24.10-modelship-0.1.0",
    ],
)
def test_tags_digests_and_subpaths_of_allowed_entries_pass(
    allowed: Rendered, decide: Callable[..., Any], image: str
) -> None:
    for obj in [*samples("ModelDeployment").values(), *samples("RetrainJob").values()]:
        assert decide(allowed, with_image(obj, image)).refusals == []


@pytest.mark.parametrize("kind", sorted(PLURALS))
def test_an_update_that_keeps_a_refused_image_passes_and_one_that_sets_it_does_not(
    allowed: Rendered, decide: Callable[..., Any], kind: str
) -> None:
    """Objects from before a list tightened must stay updatable (the operator patches
    finalizers and annotations; deletion removes the finalizer), but not be re-pointed."""
    for name, obj in samples(kind).items():
        stored = with_image(obj, "docker.io/attacker/miner:1")
        touched = copy.deepcopy(stored)
        touched["metadata"]["annotations"] = {"example.com/touched": "yes"}
        touched["metadata"]["deletionTimestamp"] = "2026-11-30T00:00:00Z"
        assert decide(allowed, touched, old=stored).refusals == [], name
        for new_image in ("docker.io/attacker/miner:2", "docker.io/other/x:1"):
            assert decide(allowed, with_image(obj, new_image), old=stored).denied, name
        assert decide(allowed, with_image(obj, "docker.io/attacker/miner:1"), old=obj).denied


def test_a_star_allows_any_image_and_an_empty_list_none(
    render_policy: Callable[[dict[str, Any]], Rendered], decide: Callable[..., Any]
) -> None:
    anything = render_policy({"allowedImages": ["*"], "allowedServiceAccounts": ["*"]})
    nothing = render_policy({"allowedImages": [], "allowedServiceAccounts": []})
    for obj in [*samples("ModelDeployment").values(), *samples("RetrainJob").values()]:
        odd = with_image(obj, "docker.io/attacker/miner:1")
        assert decide(anything, odd).refusals == []
        field = ".".join(("spec", *IMAGE_FIELD[obj["kind"]]))
        refusals = decide(nothing, obj).refusals
        assert refusals[0].startswith(f"{field} ")
        assert refusals[0].endswith(
            "is not an image this cluster allows: name one under none "
            "(the modelship chart's policy.allowedImages)"
        )


def test_a_trainer_service_account_outside_the_list_is_refused(
    allowed: Rendered, decide: Callable[..., Any]
) -> None:
    for name, obj in samples("RetrainJob").items():
        assert decide(allowed, with_account(obj, "risk-trainer")).refusals == [], name
        assert decide(allowed, with_account(obj, None)).refusals == [], name
        decision = decide(allowed, with_account(obj, "cluster-admin-bound"))
        assert decision.denied, name
        assert decision.refusals == [
            f'spec.template.serviceAccountName "cluster-admin-bound"{ACCOUNT_HINT}'
        ]


def test_service_account_updates_ratchet_like_images(
    allowed: Rendered, decide: Callable[..., Any]
) -> None:
    for name, obj in samples("RetrainJob").items():
        stored = with_account(obj, "data-reader")
        touched = copy.deepcopy(stored)
        touched["spec"]["suspend"] = True
        assert decide(allowed, touched, old=stored).refusals == [], name
        assert decide(allowed, with_account(obj, "data-writer"), old=stored).denied, name
        assert decide(allowed, with_account(obj, "data-reader"), old=with_account(obj, None)).denied
        assert decide(allowed, with_account(obj, None), old=stored).refusals == [], name


def test_no_service_account_may_be_named_under_an_empty_list(
    render_policy: Callable[[dict[str, Any]], Rendered], decide: Callable[..., Any]
) -> None:
    rendered = render_policy({"allowedImages": ["*"], "allowedServiceAccounts": []})
    once = samples("RetrainJob")["retrainjob-once"]
    assert decide(rendered, once).refusals == [
        'spec.template.serviceAccountName "risk-trainer" is not a ServiceAccount trainers may '
        "run as here: leave it out, or name one of none (the modelship chart's "
        "policy.allowedServiceAccounts)"
    ]
    assert decide(rendered, with_account(once, None)).refusals == []


def test_warn_only_warns(
    render_policy: Callable[[dict[str, Any]], Rendered], decide: Callable[..., Any]
) -> None:
    rendered = render_policy({**ALLOWED, "admission": {"validationActions": ["Warn", "Audit"]}})
    obj = with_image(samples("ModelDeployment")["modeldeployment-minimal"], "docker.io/x/y:1")
    decision = decide(rendered, obj)
    assert not decision.denied
    assert decision.warnings == [f'spec.serving.image "docker.io/x/y:1"{IMAGE_HINT}']


def test_each_policy_guards_only_its_kind_on_create_and_update(allowed: Rendered) -> None:
    for plural, entry in allowed.items():
        policy = entry["policy"]
        obj = next(iter(samples({v: k for k, v in PLURALS.items()}[plural]).values()))
        for operation, expected in (("CREATE", True), ("UPDATE", True), ("DELETE", False)):
            request = admission.Request(operation, GROUP, VERSION, plural, obj["kind"], obj)
            assert admission.matches(policy, request) is expected
        for other in set(PLURALS.values()) - {plural}:
            request = admission.Request("CREATE", GROUP, VERSION, other, "Other", obj)
            assert not admission.matches(policy, request)
    assert set(allowed) == set(PLURALS.values())


# --- Cost -----------------------------------------------------------------------------------


def worst_case_values() -> dict[str, Any]:
    """The longest lists the chart's schema accepts, of the longest entries."""
    schema = yaml.safe_load((REPO / "charts" / "modelship" / "values.schema.json").read_text())
    lists = schema["properties"]["policy"]["properties"]
    images = lists["allowedImages"]
    accounts = lists["allowedServiceAccounts"]
    longest_image = images["items"]["maxLength"] - 4
    return {
        "allowedImages": [
            f"r{index:02d}".ljust(longest_image, "a") + "/" for index in range(images["maxItems"])
        ],
        "allowedServiceAccounts": [
            f"a{index:02d}".ljust(63, "a") for index in range(accounts["maxItems"])
        ],
    }


def expression_costs(policy: dict[str, Any], schema: dict[str, Any]) -> dict[str, int]:
    """The estimated worst-case cost of each expression, typed as the API server types a
    policy's expressions for a matched CRD: `object` and `oldObject` by its schema, each
    variable by its own expression. A variable is charged once per request (the API server
    caches it), so it is listed on its own."""
    root = cel_cost.decl_type(schema, is_resource_root=True)
    # The AdmissionRequest's strings are unbounded: as long as a request may be.
    unbounded = cel_cost.DeclType("string", cel_cost.MAX_REQUEST_SIZE_BYTES - 2)
    request = cel_cost.DeclType("object", fields={"operation": unbounded})
    variables: dict[str, Any] = {}

    def estimate(expression: str) -> Any:
        # The estimator of CRD rules, with the variables of a policy in scope.
        coster = cel_cost._Coster(root)
        obj = cel_cost.Estimate(0, "object", root)
        decl = cel_cost.DeclType("object", fields=dict(variables))
        coster.scopes.append(
            {
                "object": obj,
                "oldObject": obj,
                "request": cel_cost.Estimate(0, "object", request),
                "variables": cel_cost.Estimate(0, "object", decl),
            }
        )
        return coster.cost(cel_cost._PARSER.parse(expression))

    costs = {}
    for variable in policy["spec"]["variables"]:
        result = estimate(variable["expression"])
        costs[f"variables.{variable['name']}"] = result.cost
        if result.decl is not None:
            variables[variable["name"]] = result.decl
        else:  # a list literal: its size and its longest element are known
            element = cel_cost.DeclType(result.elem_kind or "string", result.elem_size or 0)
            variables[variable["name"]] = cel_cost.DeclType("list", result.size, 2, elem=element)
    for index, validation in enumerate(policy["spec"]["validations"]):
        for key in ("expression", "messageExpression"):
            costs[f"validations[{index}].{key}"] = estimate(validation[key]).cost
    return costs


def test_worst_case_cost_fits_the_api_servers_limits(
    render_policy: Callable[[dict[str, Any]], Rendered],
    crd_schemas: dict[str, dict[str, Any]],
) -> None:
    rendered = render_policy(worst_case_values())
    report = {}
    for plural, entry in rendered.items():
        costs = expression_costs(entry["policy"], crd_schemas[plural])
        variables = sum(cost for name, cost in costs.items() if name.startswith("variables."))
        # An expression may be the first to read every variable, and pay for them.
        assert all(cost + variables <= PER_CALL_LIMIT for cost in costs.values()), costs
        assert sum(costs.values()) <= RUNTIME_BUDGET, costs
        report[plural] = (max(costs.values()) + variables, sum(costs.values()))
    print(f"worst-case CEL cost per policy (one expression, whole request): {report}")
