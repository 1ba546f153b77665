"""The export formats, shared by the review page and the API: streamed, constant memory, safe in spreadsheets."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator

from django.http import StreamingHttpResponse

from .chain import HASHED_FIELDS, format_time

CSV_COLUMNS = (*HASHED_FIELDS, "hash")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


def _defuse(value) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    text = (
        ""
        if value is None
        else (json.dumps(value, ensure_ascii=False, sort_keys=True) if isinstance(value, dict | list) else str(value))
    )
    return "'" + text if text.startswith(FORMULA_START) else text


def safe_csv(header: Iterable[str], rows: Iterable[Iterable]) -> Iterator[str]:
    """CSV text in chunks of about 64 KB, every cell quoted and defused: a spreadsheet that splits on ";" or tabs
    must not find a formula inside one. Shared by every export (the audit log's, the drift report's)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL)
    writer.writerow(list(header))
    for row in rows:
        writer.writerow([_defuse(value) for value in row])
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_lines(records: Iterable[tuple[dict, str]]) -> Iterator[str]:
    def rows():
        for row, payload_json in records:
            row["created_at"] = format_time(row["created_at"])
            row["payload"] = payload_json
            yield [row[c] for c in CSV_COLUMNS]

    return safe_csv(CSV_COLUMNS, rows())


def jsonl_lines(records: Iterable[tuple[dict, str]]) -> Iterator[str]:
    chunk = []
    for row, payload_json in records:
        row["created_at"] = format_time(row["created_at"])
        # The stored payload JSON goes in as it is; see selectors.export_records.
        chunk.append(json.dumps(row, ensure_ascii=False)[:-1] + ', "payload": ' + payload_json + "}")
        if len(chunk) >= 1000:
            yield "\n".join(chunk) + "\n"
            chunk = []
    if chunk:
        yield "\n".join(chunk) + "\n"


def export_response(kind: str, records: Iterable[tuple[dict, str]], *, up_to_seq: int):
    lines = csv_lines(records) if kind == "csv" else jsonl_lines(records)
    response = StreamingHttpResponse(lines, content_type=CONTENT_TYPES[kind])
    response["Content-Disposition"] = f'attachment; filename="audit-up-to-{up_to_seq}.{kind}"'
    return response
