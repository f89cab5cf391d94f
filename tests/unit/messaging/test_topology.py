from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tasdir.messaging import TOPOLOGY, service_queue, topic_matches


@pytest.mark.parametrize(
    ("pattern", "key", "expected"),
    [
        ("exporters.#", "exporters.exporter.registered.v1", True),
        ("exporters.#", "exporters", True),
        ("exporters.#", "credit_products.product.published.v1", False),
        ("exporters.*.registered.v1", "exporters.exporter.registered.v1", True),
        ("exporters.*.registered.v1", "exporters.a.b.registered.v1", False),
        ("*.exporter.#", "exporters.exporter.updated.v1", True),
        ("#", "anything.at.all", True),
        ("#.v1", "matching.offer.decided.v1", True),
        ("a.b", "a.b.c", False),
    ],
)
def test_topic_matching_follows_amqp(pattern: str, key: str, expected: bool) -> None:
    assert topic_matches(pattern, key) is expected


words = st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=5)


@given(words)
def test_a_key_matches_itself_and_hash(key_words: list[str]) -> None:
    key = ".".join(key_words)
    assert topic_matches(key, key)
    assert topic_matches("#", key)
    assert topic_matches(".".join("*" for _ in key_words), key)


def test_every_service_has_a_quorum_queue_with_a_dlq_and_a_delivery_limit() -> None:
    assert {q.service for q in TOPOLOGY} == {"exporters", "credit_products", "matching"}
    for queue in TOPOLOGY:
        arguments = queue.arguments()
        assert arguments["x-queue-type"] == "quorum"
        assert arguments["x-delivery-limit"] == queue.delivery_limit > 0
        assert arguments["x-dead-letter-routing-key"] == queue.name
        assert queue.dlq_name == f"{queue.name}.dlq"


def test_only_matching_is_a_single_active_consumer() -> None:
    single = [q.service for q in TOPOLOGY if q.arguments().get("x-single-active-consumer")]
    assert single == ["matching"]


def test_each_catalogue_event_reaches_its_design_consumers() -> None:
    from tasdir.contracts import registry

    consumers = {
        "exporters.exporter.registered.v1": {"matching"},
        "exporters.financing_request.submitted.v1": {"matching"},
        "exporters.consent.revoked.v1": {"matching"},
        "credit_products.provider.registered.v1": {"matching", "exporters"},
        "credit_products.product.published.v1": {"matching"},
        # Matching takes its own deal-flow events too: a review sends the referrals, and
        # each step notifies its parties.
        "matching.match_set.proposed.v1": {"exporters", "matching"},
        "matching.review.completed.v1": {"exporters", "matching"},
        "matching.referral.replied.v1": {"exporters", "matching"},
        "matching.offer.decided.v1": {"exporters", "matching"},
    }
    for event_type, expected in consumers.items():
        assert event_type in registry
        bound = {
            q.service for q in TOPOLOGY if any(topic_matches(p, event_type) for p in q.bindings)
        }
        assert bound == expected, event_type
    assert service_queue("matching").name == "matching.events"


def test_the_deployed_rabbitmq_definitions_match_the_topology_module() -> None:
    import json
    from pathlib import Path

    from tasdir.messaging.topology import rabbitmq_definitions

    path = Path(__file__).resolve().parents[3] / "deploy" / "rabbitmq" / "definitions.json"
    assert json.loads(path.read_text()) == rabbitmq_definitions(), (
        "regenerate deploy/rabbitmq/definitions.json (see deploy/README.md)"
    )


def test_the_dead_letter_queues_keep_their_messages_on_rabbitmq_4() -> None:
    """RabbitMQ 4's default delivery limit (20) would drop a dead letter browsed 20 times: the
    definitions carry a policy that lifts it on every DLQ, and on no service queue."""
    import re

    from tasdir.messaging.topology import rabbitmq_definitions

    (policy,) = rabbitmq_definitions()["policies"]
    assert policy["definition"] == {"delivery-limit": -1}
    for spec in TOPOLOGY:
        assert re.match(policy["pattern"], spec.dlq_name)
        assert not re.match(policy["pattern"], spec.name)
