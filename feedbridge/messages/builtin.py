"""The built-in templates: one entry, a digest and a health event, per body format.

What each service receives from them is pinned in tests/data/messages/. A value a
template prints is escaped for the service's markup (`messages/escape.py`); the markup
here is the templates' own.
"""

from __future__ import annotations

DEFAULT_TITLE = "{{ title }}"
_BLURB = "{% set blurb = ai_summary or summary|truncate(400) %}"
_META = (
    "{% if score is not none %}▲ {{ score|int }}{% if byline %} · {% endif %}{% endif %}"
    "{{ byline }}"
)
DEFAULT_BODY = {
    "text": _BLURB
    + _META
    + """{% if blurb %}

{{ blurb }}{% endif %}{% if link %}

{{ link }}{% endif %}{% if arxiv_pdf %}
PDF: {{ arxiv_pdf }}{% endif %}{% if github %}
Code: {{ github }}{% endif %}""",
    "markdown": _BLURB
    + _META
    + """{% if blurb %}

{{ blurb }}{% endif %}{% if link or arxiv_pdf or github %}

{% if link %}[{{ site }}]({{ link }}){% endif %}\
{% if arxiv_pdf %}{% if link %} · {% endif %}[arXiv]({{ arxiv_abs }}) · [PDF]({{ arxiv_pdf }})\
{% endif %}{% if github %}{% if link or arxiv_pdf %} · {% endif %}[Code]({{ github }}){% endif %}\
{% endif %}""",
    "html": _BLURB
    + """{% if score is not none or byline %}<p>{% if score is not none %}▲ {{ score|int }} upvotes\
{% if byline %} · {% endif %}{% endif %}{{ byline }}</p>
{% endif %}{% if blurb %}<p>{{ blurb }}</p>
{% endif %}{% if link or arxiv_pdf or github %}<p>\
{% if link %}<a href="{{ link }}">{{ site }}</a>{% endif %}\
{% if arxiv_pdf %}{% if link %} · {% endif %}<a href="{{ arxiv_abs }}">arXiv</a> · \
<a href="{{ arxiv_pdf }}">PDF</a>{% endif %}\
{% if github %}{% if link or arxiv_pdf %} · {% endif %}<a href="{{ github }}">Code</a>{% endif %}\
</p>{% endif %}""",
}

_REPO_LINKS_MD = (
    "[Hugging Face]({{ link }})"
    "{% if arxiv_pdf %} · [arXiv]({{ arxiv_abs }}) · [PDF]({{ arxiv_pdf }}){% endif %}"
    "{% if paper_link %} · [Paper]({{ paper_link }}){% endif %}"
    "{% if collection_url %} · [Collection: {{ collection }}]({{ collection_url }}){% endif %}"
)
_REPO_LINKS_HTML = (
    '<a href="{{ link }}">Hugging Face</a>'
    '{% if arxiv_pdf %} · <a href="{{ arxiv_abs }}">arXiv</a> · <a href="{{ arxiv_pdf }}">PDF</a>'
    "{% endif %}"
    '{% if paper_link %} · <a href="{{ paper_link }}">Paper</a>{% endif %}'
    '{% if collection_url %} · <a href="{{ collection_url }}">Collection: {{ collection }}</a>'
    "{% endif %}"
)
_REPO_META = "{{ facts }}"  # no byline: a repo's id starts with its author
_REPO_BLURB = "{% set blurb = summary if summary != note else '' %}"
# Hub items (a repo, a collection's item, a released artifact): what it is and how popular,
# the curator's note, the card's summary, then its links.
DEFAULT_REPO_BODY = {
    "text": _REPO_BLURB
    + _REPO_META
    + """{% if note %}

Note: {{ note }}{% endif %}{% if blurb %}

{{ blurb|truncate(400) }}{% endif %}

{{ link }}{% if paper_link %}
Paper: {{ paper_link }}{% endif %}{% if collection %}
Collection: {{ collection }} {{ collection_url }}{% endif %}""",
    "markdown": _REPO_BLURB
    + _REPO_META
    + """{% if note %}

> {{ note }}{% endif %}{% if blurb %}

{{ blurb|truncate(400) }}{% endif %}

"""
    + _REPO_LINKS_MD,
    "html": _REPO_BLURB
    + "<p>"
    + _REPO_META
    + """</p>
{% if note %}<p><em>Note:</em> {{ note }}</p>
{% endif %}{% if blurb %}<p>{{ blurb|truncate(400) }}</p>
{% endif %}<p>"""
    + _REPO_LINKS_HTML
    + "</p>",
}

DIGEST_TITLE = (
    "{{ count }} new {{ noun }} · {{ date }}{% if parts > 1 %} ({{ part }}/{{ parts }}){% endif %}"
)
# One entry's second line in a digest: a Hub item's facts, else score and authors; then the
# date; whichever it has.
_DIGEST_META = (
    "{% set meta = (([e.facts] if e.facts else"
    " [('▲ ' ~ e.score|int) if e.score is not none else '', e.byline]) + [e.date])"
    "|select|list %}"
)
DIGEST_BODY = {
    "text": """{% for e in entries %}{% if not loop.first %}

{% endif %}"""
    + _DIGEST_META
    + """{{ e.number }}. {{ e.title }}{% if meta %}
   {{ meta|join(' · ') }}{% endif %}{% if e.link %}
   {{ e.link }}{% endif %}{% endfor %}{% if more %}

…and {{ more }} more.{% endif %}""",
    "markdown": """{% for e in entries %}{% if not loop.first %}

{% endif %}"""
    + _DIGEST_META
    + """{{ e.number }}. \
**{% if e.link %}[{{ e.title }}]({{ e.link }}){% else %}{{ e.title }}{% endif %}**\
{% if meta %}
   {{ meta|join(' · ') }}{% endif %}{% endfor %}{% if more %}

…and {{ more }} more.{% endif %}""",
    "html": """<div style="font-family:-apple-system,Segoe UI,Roboto,sans-serif;max-width:640px">
{% for e in entries %}<div style="margin:0 0 18px">
<p style="margin:0 0 4px;font-size:16px"><b>{{ e.number }}.</b> \
{% if e.link %}<a href="{{ e.link }}" style="color:#1a0dab;text-decoration:none">{% endif %}\
{{ e.title }}{% if e.link %}</a>{% endif %}</p>
{% if e.facts %}<p style="margin:0 0 6px;color:#555;font-size:13px">{{ e.facts }}\
{% if e.date %} · {{ e.date }}{% endif %}</p>
{% elif e.score is not none or e.byline or e.date %}\
<p style="margin:0 0 6px;color:#555;font-size:13px">\
{% if e.score is not none %}▲ {{ e.score|int }} upvotes{% if e.byline or e.date %} · {% endif %}\
{% endif %}{{ e.byline }}{% if e.byline and e.date %} · {% endif %}{{ e.date or '' }}</p>
{% endif %}{% if e.summary %}<p style="margin:0;font-size:14px;line-height:1.45">\
{{ e.summary|truncate(360) }}</p>
{% endif %}{% if e.arxiv_pdf or e.github %}<p style="margin:6px 0 0;font-size:13px">\
{% if e.arxiv_pdf %}<a href="{{ e.arxiv_abs }}">arXiv</a> · <a href="{{ e.arxiv_pdf }}">PDF</a>\
{% endif %}{% if e.arxiv_pdf and e.github %} · {% endif %}\
{% if e.github %}<a href="{{ e.github }}">Code</a>{% endif %}</p>
{% endif %}</div>
{% endfor %}{% if more %}<p style="color:#555">…and {{ more }} more.</p>
{% endif %}<p style="color:#888;font-size:12px">Sent by feedbridge.</p>
</div>""",
}

HEALTH_TITLE = "feedbridge: {{ subject }} {{ kind }}"
HEALTH_BODY = {
    "text": "{{ message }}\n\n{{ at }}",
    "markdown": "{{ message }}\n\n{{ at }}",
    "html": "<p>{{ message }}</p>\n<p>{{ at }}</p>",
}
