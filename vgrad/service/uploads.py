"""The service's uploaded tables: POST /datasets stores a CSV once by content hash (vgrad.uploads).

    POST   /datasets?name=iris.csv             raw CSV bytes -> UploadInfo (413 over a limit, 400 not usable)
    GET    /datasets                            [UploadInfo], newest first
    GET    /datasets/{id}                       UploadInfo (404: not on this server)
    DELETE /datasets/{id}                       {"deleted": id}

The body is read in chunks and refused as soon as it passes VGRAD_MAX_UPLOAD_MB: a 200 MB upload is
never held whole. Parsing runs in a worker thread, so /health keeps answering. Whose upload it is (the
per-user cap) comes from the X-Vgrad-Client header the app sends, like a job's.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from vgrad import settings
from vgrad.uploads import UploadError, UploadMeta, UploadStore

router = APIRouter()


class UploadInfo(BaseModel):
    id: str = Field(description="sha256 of the file: use it as RunConfig data_id (dataset=csv)")
    name: str
    size: int
    rows: int
    columns: list[str]
    created: float
    default_target: str
    summary: dict[str, Any]


def info(meta: UploadMeta) -> dict:
    return {"id": meta.id, "name": meta.name, "size": meta.size, "rows": meta.rows, "columns": list(meta.columns),
            "created": meta.created, "default_target": meta.default_target, "summary": meta.summary}


def store_of(request: Request) -> UploadStore:
    return getattr(request.app.state, "uploads", None) or UploadStore()


def _problem(status: int, detail: str):
    from vgrad.service.routes import SafeJSONResponse

    return SafeJSONResponse({"detail": detail}, status_code=status)


# The app refuses bodies over 256 kB (a job's JSON); an upload's own limit is checked below, as it arrives.
@router.post("/datasets", response_model=UploadInfo, max_body_size=2**40)
async def upload(request: Request, name: str = Query("upload.csv", max_length=200),
                 target: str = Query("", max_length=200, description="the target column (empty: the last)"),
                 x_vgrad_client: str | None = Header(None, max_length=100, description="the browser session")):
    """Store an uploaded CSV (raw body). 413: over the size limit; 400: not a table vgrad can train on."""
    limit = settings.max_upload_bytes()
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return _problem(413, f"the file is {int(declared) / 2**20:.1f} MB; the server accepts at most "
                        f"{limit / 2**20:.0f} MB (VGRAD_MAX_UPLOAD_MB)")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return _problem(413, f"the file is larger than {limit / 2**20:.0f} MB, the most the server accepts "
                            "(VGRAD_MAX_UPLOAD_MB)")
        chunks.append(chunk)
    raw = b"".join(chunks)
    try:
        client = x_vgrad_client or (request.client.host if request.client else "")
        meta = await run_in_threadpool(store_of(request).save, raw, name, client, target)
    except UploadError as exc:
        return _problem(400, str(exc))
    return info(meta)


@router.get("/datasets", response_model=list[UploadInfo])
def list_uploads(request: Request) -> list[dict]:
    return [info(m) for m in store_of(request).list()]


@router.get("/datasets/{data_id}", response_model=UploadInfo)
def get_upload(data_id: str, request: Request):
    try:
        return info(store_of(request).meta(data_id))
    except UploadError as exc:
        return _problem(404, str(exc))


@router.delete("/datasets/{data_id}")
def delete_upload(data_id: str, request: Request):
    try:
        store_of(request).delete(data_id)
    except UploadError as exc:
        return _problem(404, str(exc))
    return {"deleted": data_id}
