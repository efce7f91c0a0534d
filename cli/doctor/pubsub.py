"""Pub/Sub: the topic, the dead-letter topic, the push subscription and the dead-letter hold."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from google.api_core import exceptions as gexc

from cli.doctor.context import Context, failed_read
from cli.doctor.report import Check, fail, ok, skip
from cli.doctor.workers import push_verification


def checks(ctx: Context) -> Iterator[Check]:
    settings = ctx.expected.settings
    yield ctx.run("topic", lambda: _topic(ctx, "topic", settings.topic, "PUBSUB_TOPIC"))
    yield ctx.run(
        "dead-letter topic",
        lambda: _topic(
            ctx, "dead-letter topic", settings.dead_letter_topic, "PUBSUB_DEAD_LETTER_TOPIC"
        ),
    )
    path = ctx.expected.subscription_path(settings.push_subscription)
    try:
        subscription = ctx.once("push subscription", lambda: _get(ctx, path))
    except gexc.NotFound:
        yield fail(
            "push subscription",
            f"{path} does not exist (PUBSUB_PUSH_SUBSCRIPTION): nothing delivers to the sync"
            " worker",
            ctx.recreate_fix("the push subscription", missing=True),
        )
        subscription = None
    except Exception as error:
        yield failed_read("push subscription", error, local=ctx.local)
        subscription = None
    dependent = ("dead-letter policy", "retry policy", "push endpoint", "push audience")
    if subscription is None:
        for name in dependent:
            yield skip(name, "no push subscription to read")
    else:
        yield ctx.run("push subscription", lambda: _subscription(ctx, subscription))
        yield ctx.run("dead-letter policy", lambda: _dead_letter_policy(ctx, subscription))
        yield ctx.run("retry policy", lambda: _retry_policy(ctx, subscription))
        yield ctx.run("push endpoint", lambda: _push_endpoint(ctx, subscription))
        yield ctx.run("push audience", lambda: _push_audience(ctx, subscription))
    yield ctx.run("dead-letter hold subscription", lambda: _hold(ctx))


def _get(ctx: Context, path: str) -> Any:
    return ctx.clients.subscriber.get_subscription(subscription=path, timeout=20)


def _topic(ctx: Context, name: str, topic: str, setting: str) -> Check:
    path = ctx.expected.topic_path(topic)
    try:
        ctx.clients.publisher.get_topic(topic=path, timeout=20)
    except gexc.NotFound:
        return fail(
            name,
            f"{path} does not exist ({setting})",
            ctx.recreate_fix(f"the {name}", missing=True),
        )
    return ok(name, f"{path} exists")


def _subscription(ctx: Context, subscription: Any) -> Check:
    expected, policy = ctx.expected, ctx.expected.push
    problems = []
    topic = expected.topic_path()
    if subscription.topic != topic:
        problems.append(f"it reads {subscription.topic or 'a deleted topic'}, not {topic}")
    if subscription.ack_deadline_seconds != policy.ack_deadline_seconds:
        problems.append(
            f"ack deadline {subscription.ack_deadline_seconds} s, not"
            f" {policy.ack_deadline_seconds} s"
        )
    if policy.retention_seconds is not None:
        retention = int(subscription.message_retention_duration.total_seconds())
        if retention != policy.retention_seconds:
            problems.append(
                f"keeps messages {retention} s, not {policy.retention_seconds} s"
                " (REDRIVE_RETENTION_HOURS)"
            )
        if not subscription.retain_acked_messages:
            problems.append("does not keep acknowledged messages (no seek to replay)")
        if subscription.expiration_policy.ttl.total_seconds() > 0:
            problems.append("expires when idle")
    if problems:
        return fail(
            "push subscription",
            f"{subscription.name}: {'; '.join(problems)} ({policy.source})",
            ctx.recreate_fix("the push subscription"),
        )
    return ok(
        "push subscription",
        f"{subscription.name} on {topic}, ack deadline {policy.ack_deadline_seconds} s",
    )


def _dead_letter_policy(ctx: Context, subscription: Any) -> Check:
    expected, policy = ctx.expected, ctx.expected.push
    dead_letter_topic = expected.topic_path(expected.settings.dead_letter_topic)
    actual = subscription.dead_letter_policy
    if not actual.dead_letter_topic:
        return fail(
            "dead-letter policy",
            f"{subscription.name} has none: a message the sync worker keeps refusing is"
            f" redelivered forever instead of moving to {dead_letter_topic}",
            ctx.recreate_fix("the push subscription's dead-letter policy"),
        )
    problems = []
    if actual.dead_letter_topic != dead_letter_topic:
        problems.append(f"sends to {actual.dead_letter_topic}, not {dead_letter_topic}")
    if actual.max_delivery_attempts != policy.max_delivery_attempts:
        problems.append(
            f"after {actual.max_delivery_attempts} attempts, not {policy.max_delivery_attempts}"
        )
    if problems:
        return fail(
            "dead-letter policy",
            f"{'; '.join(problems)} ({policy.source})",
            ctx.recreate_fix("the push subscription's dead-letter policy"),
        )
    return ok(
        "dead-letter policy",
        f"to {dead_letter_topic} after {policy.max_delivery_attempts} delivery attempts",
    )


def _retry_policy(ctx: Context, subscription: Any) -> Check:
    policy = ctx.expected.push
    if "retry_policy" not in subscription or not subscription.retry_policy.maximum_backoff:
        return fail(
            "retry policy",
            f"{subscription.name} has none: Pub/Sub redelivers a refused message at once",
            ctx.recreate_fix("the push subscription's retry policy"),
        )
    low = int(subscription.retry_policy.minimum_backoff.total_seconds())
    high = int(subscription.retry_policy.maximum_backoff.total_seconds())
    wanted = (policy.min_backoff_seconds, policy.max_backoff_seconds)
    if (low, high) != wanted:
        return fail(
            "retry policy",
            f"backoff {low} s to {high} s, not {wanted[0]} s to {wanted[1]} s ({policy.source})",
            ctx.recreate_fix("the push subscription's retry policy"),
        )
    return ok("retry policy", f"redelivery backoff {low} s to {high} s")


def _push_endpoint(ctx: Context, subscription: Any) -> Check:
    endpoint = subscription.push_config.push_endpoint
    wanted: str | None
    if ctx.local:
        wanted, where = ctx.expected.local_sync_worker_url, "the local sync worker"
    else:
        wanted, where = push_verification(ctx).url, "the sync worker function's URL"
        if wanted is None:
            return skip(
                "push endpoint",
                f"{endpoint or 'no endpoint'}: the sync worker's URL is unknown (give"
                " --terraform-output, or let doctor read the function)",
            )
    if not endpoint:
        return fail(
            "push endpoint",
            f"{subscription.name} is a pull subscription: nothing is pushed to {where}",
            ctx.recreate_fix("the push subscription"),
        )
    if endpoint.rstrip("/") != wanted.rstrip("/"):
        return fail(
            "push endpoint",
            f"pushes to {endpoint}, not {where} {wanted}",
            ctx.recreate_fix("the push subscription"),
        )
    return ok("push endpoint", f"{endpoint} ({where})")


def _push_audience(ctx: Context, subscription: Any) -> Check:
    token = subscription.push_config.oidc_token
    audience, account = token.audience or "", token.service_account_email or ""
    verified = push_verification(ctx)
    mismatches = []
    for label, sent, wanted in (
        ("audience", audience, verified.audience),
        ("service account", account, verified.service_account),
    ):
        if wanted is not None and sent != wanted:
            mismatches.append(
                f"the subscription's token has {label} {sent or '(none)'}, the sync worker"
                f" expects {wanted or '(none)'}"
            )
    if mismatches:
        detail = f"{'; '.join(mismatches)} ({verified.source})"
        return fail("push audience", detail, _audience_fix(ctx))
    if ctx.local and not audience:
        return ok(
            "push audience",
            "no OIDC token and PUSH_AUDIENCE unset (the local sync worker runs with AUTH_DISABLED)",
        )
    if verified.audience is None:
        return skip(
            "push audience",
            f"token audience {audience or '(none)'}: what the sync worker verifies is unknown"
            " (give --terraform-output, or let doctor read the function)",
        )
    return ok(
        "push audience", f"token for {account} with audience {audience}, as the worker checks"
    )


def _audience_fix(ctx: Context) -> str:
    if ctx.local:
        return (
            "make PUSH_AUDIENCE and PUSH_SERVICE_ACCOUNT match the push subscription (the local"
            " stack sends no token: unset them), then `session-sync local down` and"
            " `session-sync local up`"
        )
    return (
        "run `terraform apply`: it gives the subscription and the sync worker the same"
        " push_audience and push-invoker account (set push_audience only to a URL Cloud Run"
        " accepts)"
    )


def _hold(ctx: Context) -> Check:
    expected = ctx.expected
    path = expected.subscription_path(expected.hold_subscription)
    try:
        hold = ctx.clients.subscriber.get_subscription(subscription=path, timeout=20)
    except gexc.NotFound:
        return fail(
            "dead-letter hold subscription",
            f"{path} does not exist: dead letters are dropped, `replay --dead-letters` finds none",
            ctx.recreate_fix("the dead-letter hold subscription", missing=True),
        )
    topic = expected.topic_path(expected.settings.dead_letter_topic)
    if hold.topic != topic:
        return fail(
            "dead-letter hold subscription",
            f"{path} reads {hold.topic}, not {topic}",
            ctx.recreate_fix("the dead-letter hold subscription"),
        )
    return ok("dead-letter hold subscription", f"{path} holds {topic}")
