"""The contract every query policy passes, as a reusable pytest test class.

A query policy (``rose.policy(name)``, the ``rose_policies`` hook) picks candidates. Its
tests subclass :class:`PolicyContract`, say how to build a fresh policy and give a selection
request it understands::

    from rose.testing import PolicyContract

    class TestMyPolicyContract(PolicyContract):
        candidates = [[x / 10] for x in range(10)]

        def make_policy(self):
            return MyPolicy()

The check is :func:`rose.testing.check_policy` (``k`` distinct valid indices, never a
pending point, the same seed gives the same picks, a bad ``k`` is an error naming it,
``observe`` accepts labels, a new policy told every label so far selects what a long-lived
one does, as after a resume); a failure is a :class:`ContractFailure`
naming the check, the policy and where the rules are written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

__all__ = ["ContractFailure", "PolicyContract", "check_policy", "check_policy_resumes"]


class ContractFailure(AssertionError):
    """A plugin failed a contract check of :mod:`rose.testing` (the message names check, plugin and fix)."""


def check_policy(
    make_policy: Callable[[], Any],
    candidates: Sequence[Any],
    *,
    scores: Sequence[float] | None = None,
    predictions: Any = None,
    k: int = 3,
) -> None:
    """The contract of a query policy object (see :class:`rose.policies.Policy`).

    ``make_policy()`` returns a fresh policy (stateful policies such as an Optuna study
    start over); ``candidates`` (at least ``k + 3`` of them, all different), ``scores`` and
    ``predictions`` are a selection request the policy understands. Checks: the flags are
    booleans; ``select`` returns ``k`` distinct valid indices; it never returns a pending
    point, and with all but ``k`` candidates pending it returns exactly the others; the
    same seed gives the same selection; ``k`` larger than the available candidates and
    ``k=0`` raise ``ValueError`` naming ``k``; ``observe`` accepts labels; and a new policy
    told every label so far selects what the long-lived one does
    (:func:`check_policy_resumes`, what a resumed campaign needs).
    """
    from rose.policies import point_key

    n = len(candidates)
    assert n >= k + 3, f"the contract needs at least k + 3 = {k + 3} candidates, got {n}"
    rows = list(candidates.tolist() if hasattr(candidates, "tolist") else candidates)
    request: dict[str, Any] = {"scores": scores, "predictions": predictions}
    policy = make_policy()
    for flag in ("batch_aware", "pending_aware"):
        assert isinstance(getattr(policy, flag, None), bool), f"policy lacks a boolean {flag!r} attribute"
    assert callable(getattr(policy, "observe", None)), "policy lacks observe(points, values)"

    picked = policy.select(candidates, k=k, rng=0, **request)
    assert isinstance(picked, list) and all(isinstance(i, int) for i in picked), f"select returned {picked!r}"
    assert len(picked) == k and len(set(picked)) == k, f"select(k={k}) returned {picked!r}: not {k} distinct"
    assert all(0 <= i < n for i in picked), f"select returned indices outside 0..{n - 1}: {picked!r}"

    pending = [rows[i] for i in picked]
    again = make_policy().select(candidates, k=k, pending=pending, rng=1, **request)
    assert not set(again) & set(picked), f"selected pending candidates {sorted(set(again) & set(picked))}"
    pending_keys = {point_key(p) for p in pending}
    assert all(point_key(rows[i]) not in pending_keys for i in again)

    rest = [i for i in range(n) if i not in set(picked)]
    kept = rest[:k]
    crowd = [rows[i] for i in range(n) if i not in set(kept)]
    last = make_policy().select(candidates, k=k, pending=crowd, rng=2, **request)
    assert sorted(last) == sorted(kept), f"with all but {kept} pending, select returned {last}"

    first = make_policy().select(candidates, k=k, rng=1234, **request)
    second = make_policy().select(candidates, k=k, rng=1234, **request)
    assert first == second, f"the same seed gave {first} then {second}"

    for bad in (n + 1, 0):
        try:
            make_policy().select(candidates, k=bad, rng=0, **request)
        except ValueError as exc:
            assert "k" in str(exc), f"the error for k={bad} should name k: {exc}"
        else:
            raise AssertionError(f"select(k={bad}) with {n} candidates should raise ValueError")
    try:
        make_policy().select(candidates, k=k, pending=rows[: n - k + 1], rng=0, **request)
    except ValueError as exc:
        assert "pending" in str(exc), f"the error should say candidates are pending: {exc}"
    else:
        raise AssertionError(f"select(k={k}) with only {k - 1} candidates not pending should raise ValueError")

    policy.observe([rows[i] for i in picked], [float(j) for j in range(k)])
    check_policy_resumes(make_policy, candidates, k=k, **request)


def check_policy_resumes(
    make_policy: Callable[[], Any],
    candidates: Sequence[Any],
    *,
    scores: Sequence[float] | None = None,
    predictions: Any = None,
    k: int = 3,
) -> None:
    """A new policy object given one request selects what a policy that lived through the earlier ones does.

    That is what a resumed campaign needs: the process that resumes builds a new policy
    object, which sees only the requests of the iterations that run again. The long-lived
    policy is told the labels of two points, selects, is told every label so far (the first
    two again and those of its picks) and selects again; a new policy told every label so
    far once must select the same. A policy that keeps anything beyond the labels between
    selections (an optimiser's random state, trials asked earlier) fails it.
    """
    rows = list(candidates.tolist() if hasattr(candidates, "tolist") else candidates)
    request: dict[str, Any] = {"scores": scores, "predictions": predictions}
    first_labels = [(rows[-1], 1.0), (rows[-2], 2.0)]
    lived = make_policy()
    lived.observe([p for p, _ in first_labels], [v for _, v in first_labels])
    picked = lived.select(candidates, k=k, rng=5, **request)
    labels = first_labels + [(rows[i], 0.5 * j) for j, i in enumerate(picked)]
    lived.observe([p for p, _ in labels], [v for _, v in labels])
    want = lived.select(candidates, k=k, rng=6, **request)
    fresh = make_policy()
    fresh.observe([p for p, _ in labels], [v for _, v in labels])
    got = fresh.select(candidates, k=k, rng=6, **request)
    if got != want:
        policy = type(fresh)
        raise ContractFailure(
            f"PolicyContract check 'a new policy selects what a long-lived one does' failed for query policy "
            f"{policy.__module__}.{policy.__qualname__}: told every label so far, a new policy selected {got}, the "
            f"policy that made the earlier selections {want}, so a resumed campaign would select other points. Fix: "
            f"keep nothing between selections but the labels given to observe(): rebuild any model (an optimiser's "
            f"study, its random state) from the labels and the request at each select, with random numbers from rng"
        )



class PolicyContract:
    """Base test class: subclass it as ``Test<Policy>Contract`` and implement :meth:`make_policy`."""

    #: the candidate pool of the check (at least ``k + 3`` distinct points)
    candidates: ClassVar[Sequence[Any]] = [[i / 10] for i in range(10)]
    #: the batch size the check asks for
    k: ClassVar[int] = 3

    def make_policy(self) -> Any:
        """A fresh policy object (a stateful policy starts over each time)."""
        raise NotImplementedError("PolicyContract subclasses implement make_policy()")

    def request(self) -> dict[str, Any]:
        """What else a selection needs (``scores=``, ``predictions=``); override for your policy."""
        return {}

    def test_policy_contract(self) -> None:
        """``select``/``observe`` behave as :class:`rose.policies.Policy` says."""
        try:
            check_policy(self.make_policy, self.candidates, k=self.k, **self.request())
        except ContractFailure:
            raise
        except AssertionError as exc:
            policy = type(self.make_policy())
            problem = str(exc).splitlines()[0]
            raise ContractFailure(
                f"PolicyContract check 'select and observe follow rose.policies.Policy' failed for query policy "
                f"{policy.__module__}.{policy.__qualname__}: {problem}. Fix: select returns k distinct indices into the "
                f"candidates and never a pending one (subclass rose.policies.PolicyBase, which does that bookkeeping, "
                f"and rank the available candidates in its rank() method)"
            ) from None
