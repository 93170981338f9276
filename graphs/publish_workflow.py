"""Publishing workflow (Functional API): drafts a post, asks a human, publishes or not.

The pause is a raw ``interrupt()`` value (not Agent Inbox shaped):
``{"type": "publish_post", "question": ..., "draft": ...}``. Resume with ``true``/``false``
or ``{"approved": bool, "text": optional replacement draft}``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from langgraph.func import entrypoint, task
from langgraph.types import interrupt


@task
def draft_post(topic: str) -> str:
    return f"Announcing {topic}: faster reviews, fewer surprises."


@task
def publish(text: str) -> dict[str, Any]:
    slug = hashlib.sha256(text.encode()).hexdigest()[:12]
    return {"published": True, "text": text, "url": f"https://example.invalid/posts/{slug}"}


@entrypoint()
def workflow(inputs: dict[str, Any]) -> dict[str, Any]:
    topic = str(inputs.get("topic", "our product"))
    draft = draft_post(topic).result()
    answer = interrupt({"type": "publish_post", "question": "Publish this post?", "draft": draft})
    if isinstance(answer, dict):
        approved = bool(answer.get("approved"))
        draft = str(answer.get("text") or draft)
    else:
        approved = bool(answer)
    if not approved:
        return {"topic": topic, "draft": draft, "published": False}
    result = publish(draft).result()
    return {"topic": topic, "draft": draft, **result}
