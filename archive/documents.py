"""Documents for people: one Jinja2 template set rendered as HTML (portal, previews) or PDF/A.

The custody record of an export, the legal-review opinion and the disclosure portal are read by
people outside the bureau — a court, a reviewer, the public — so they are written once as HTML
templates under ``archive/templates/`` and turned into PDF by WeasyPrint from the same markup.
PDFs are PDF/A-3b with the Noto CJK fonts embedded (Debian's ``fonts-noto-cjk``): a PDF whose
Chinese depends on the reader's fonts is not an archival record.

Jinja2 and WeasyPrint are imported when a document is rendered, never at ``bodycam --help``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from bodycam.errors import BodycamError

TEMPLATES = Path(__file__).resolve().parent / "templates"
PDF_VARIANT = "pdf/a-3b"


@functools.cache
def environment() -> Any:
    """The one Jinja2 environment: autoescaped (text from devices and people is never raw HTML)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a missing field is a bug, not an empty line in a court record
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def render_html(template: str, **context: Any) -> str:
    """The template rendered as an HTML string (``template`` is relative to archive/templates)."""
    return environment().get_template(template).render(**context)


def render_pdf(template: str, *, title: str, **context: Any) -> bytes:
    """The same template rendered to PDF/A-3b bytes, fonts embedded, ``title`` in the metadata."""
    return pdf_from_html(render_html(template, title=title, **context))


def pdf_from_html(html: str) -> bytes:
    """PDF/A-3b bytes of an HTML document (fonts embedded; relative URLs resolve in the templates)."""
    try:
        import weasyprint
    except OSError as e:  # Pango missing: WeasyPrint fails at import with the library's name
        raise BodycamError(f"cannot render PDF: {e}; run scripts/setup.sh (it installs Pango)") from e
    doc = weasyprint.HTML(string=html, base_url=str(TEMPLATES))
    return doc.write_pdf(pdf_variant=PDF_VARIANT, uncompressed_pdf=False)


def write_pdf(path: Path, template: str, *, title: str, **context: Any) -> Path:
    """Render and write the PDF to ``path`` (created new, mode 0644: documents are for sharing)."""
    data = render_pdf(template, title=title, **context)
    path.write_bytes(data)
    return path
