"""Templates as artifacts: uploaded to the environment's bucket under content-addressed keys.

The key of a template is `<project>/<env>/<sha256 of its text>/<file>`: the same text always
has the same key, a changed one a new key, nothing is overwritten, and a file already there is
not uploaded again. The root's nested `TemplateURL`s point at these keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cfn.deploy.aws import error_code
from cfn.render import RenderedTemplate


@dataclass(frozen=True)
class Artifact:
    filename: str
    key: str
    sha256: str
    uploaded: bool  # False: it was already there


def key_for(prefix: str, template: RenderedTemplate) -> str:
    return f"{prefix}/{template.sha256}/{template.filename}"


def url_for(bucket: str, region: str, key: str) -> str:
    # The virtual-hosted, regional form, as the root template builds the nested ones.
    return f"https://{bucket}.s3.{region}.amazonaws.com/{key}"


def upload(
    s3: Any, bucket: str, prefix: str, templates: Sequence[RenderedTemplate]
) -> list[Artifact]:
    out = []
    for t in templates:
        key = key_for(prefix, t)
        try:
            s3.head_object(Bucket=bucket, Key=key)
            exists = True
        except Exception as exc:
            if error_code(exc) not in ("404", "NoSuchKey", "NotFound"):
                raise
            exists = False
        if not exists:
            s3.put_object(
                Bucket=bucket,
                Key=key,
                Body=t.text.encode(),
                ContentType="application/json",
                ChecksumAlgorithm="SHA256",
            )
        out.append(Artifact(t.filename, key, t.sha256, uploaded=not exists))
    return out
