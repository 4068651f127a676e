"""Questions about a document itself, not the news in it: who wrote it, when and where it is from,
what it says in brief ("Summarize the freight outlook"). Its metadata or its lead answers them; its
sentences, matched word by word, were quoted instead. Pure functions over the question's text."""

from __future__ import annotations

import re
from collections.abc import Sequence

from .dates import format_date
from .models import Document, Passage
from .question import APOSTROPHE as _A
from .question import LINE_END as _END
from .termweights import coverage, stem_weights, text_stems

# "Who wrote it?", "who is the author of the article on the strike?": the byline read at indexing
# answers (it was taken out of the text, so no sentence can), of the document the search finds best.
_PIECE = r"(?:article|story|piece|document|text|column|post|op-ed|report|memo|note|minute|outlook|guide)s?"
# A team's own documents, which "Tell me about the ..." names too; not the other patterns' ("Whose
# policy caused the crisis?", "When was the visa policy released?" ask about the news).
_OWN_PIECE = r"(?:policy|policie|handbook|manual|faq|brochure|newsletter)s?"
_POINTER = rf"(?:it|this|that|these|those|(?:the|this|that|these|those)\s+(?:[\w'’-]+\s+){{0,3}}?{_PIECE})"
_AUTHOR = re.compile(
    # "who wrote" must point at a document ("Who wrote the CSTO treaty?" asks the news), and "who
    # is the author" end or do ("Who was the journalist arrested?" asks the news too).
    rf"^\s*(?:and\s+)?(?:who\s+(?:wrote|authored|penned|prepared|compiled)\s+{_POINTER}\b.*|"
    rf"(?:(?:who(?:{_A}s|\s+is|\s+was)|what(?:{_A}s|\s+is)\s+the\s+name\s+of)\s+)?(?:the\s+)?(?:author|writer)"
    rf"(?:\s+of\s+{_POINTER}(?:\s+(?:about|on)\s+.*)?)?\s*[?!.]*\s*|"
    rf"whose\s+{_PIECE}\b.*|by\s+whom\b.*)$",
    re.I,
)


# "When was the battery report published?", "What is the source of the ECB article?": about a
# document, which its metadata answers (its sentences were quoted instead).
_DOCUMENT = rf"(?:it|this|that|(?:the|this|that)\s+(?:[\w'’-]+\s+){{0,3}}?(?:{_PIECE}|reports?))"
_ON = r"(?:\s+(?:about|on|of)\s+(?:[\w'’-]+\s+){0,4}?[\w'’-]+)?"  # "the article on the Rotterdam storm"
_PUBLISHED = re.compile(
    rf"^\s*(?:and\s+)?(?:when\s+(?:was|is)\s+{_DOCUMENT}{_ON}\s+(?:published|written|posted|released|dated|from)|"
    rf"(?:what(?:{_A}s|\s+is)\s+the\s+date\s+of|how\s+old\s+is)\s+{_DOCUMENT})\b.*$",
    re.I,
)
_SOURCE = re.compile(
    rf"^\s*(?:and\s+)?(?:what(?:{_A}s|\s+is)\s+the\s+(?:source|origin)\s+of\s+{_DOCUMENT}|"
    rf"where\s+(?:is|does)\s+{_DOCUMENT}{_ON}\s+(?:from|come\s+from)|"
    rf"(?:who|which\s+(?:\w+\s+)?(?:paper|newspaper|outlet|publication|site|website|agency))\s+"
    rf"(?:published|ran|released|put\s+out)\s+{_DOCUMENT})\b.*$",
    re.I,
)


# The words that point at a document rather than name it: "report" in "When was the utilities
# report published?" matched "No deaths have been reported" in another one.
_POINTING = frozenset(
    "article articles story stories piece document text column post report reports paper newspaper outlet "
    "publication site website agency source origin date published written posted released dated wrote "
    "authored penned author writer old ran come prepared compiled summary summarize summarise sum gist tl dr "
    "tldr give say says".split()
)


# A document named holds at least this share of the question's words (weighted), title included:
# "Summarize the Tesla report" over documents that never name Tesla names none of them.
NAMED_MIN_COVERAGE = 0.5


def document_named(terms: Sequence[str], found: Sequence[tuple[Passage, Document]]) -> Document | None:
    """The document a question about one names ("When was the utilities report published?"): the
    one whose title and passage hold most of its words, bar those that only point at a document;
    on a tie, search's order (``found``, best first, never empty). None when even that one holds
    less than ``NAMED_MIN_COVERAGE`` of them; a question that only points ("who wrote it?", its
    topic carried from the conversation) takes search's best."""
    topic = stem_weights([t for t in terms if t not in _POINTING])
    held = [coverage(topic, text_stems(f"{doc.title} {passage.text}")) for passage, doc in found]
    best = max(range(len(found)), key=lambda i: held[i])
    return found[best][1] if not topic or held[best] >= NAMED_MIN_COVERAGE else None


# "Summarize the freight outlook", "What does the ECB article say?", "Tell me about the travel
# policy": one document, in brief (its sentences matching the words were quoted instead).
_SUMMARY = re.compile(
    rf"^\s*(?:(?:can|could)\s+you\s+)?(?:please\s+)?(?:(?:summari[sz]e|sum\s+up|"
    rf"(?:give\s+me\s+)?(?:a\s+|the\s+)?(?:summary|gist|tl;?dr)\s+of)\b.*|"
    # "What does the report say about wages?" asks about wages: a question like any other.
    rf"what\s+does\s+{_DOCUMENT}{_ON}\s+say{_END}|"
    # "Tell me about the travel policy" (a document), not "Tell me about the strike" (the news).
    rf"tell\s+me\s+about\s+(?:the|this|that)\s+(?:[\w'’-]+\s+){{0,3}}?(?:{_PIECE}|{_OWN_PIECE}){_END})$",
    re.I,
)


def asks_about_document(question: str) -> str | None:
    """What the question asks of a document: its metadata ("author", "date", "source"), its
    "summary", or None."""
    for field, pattern in (("author", _AUTHOR), ("date", _PUBLISHED), ("source", _SOURCE), ("summary", _SUMMARY)):
        if pattern.match(question):
            return field
    return None


def asks_for_author(question: str) -> bool:
    return asks_about_document(question) == "author"


def document_reply(doc: Document, field: str) -> str:
    """The answer to "who wrote it?", "when was it published?" or "where is it from?" from the
    document's metadata."""
    when = format_date(doc.published, doc.published_precision) if doc.published else ""
    dated = f" ({when})" if when else ""
    if field == "date":
        return f"“{doc.title}” is dated {when}." if when else f"“{doc.title}” has no date."
    if field == "source":
        if doc.source:
            return f"“{doc.title}”{dated} is from {doc.source}."
        return f"“{doc.title}”{dated} names no source; it was added from {doc.origin}."
    if doc.author:
        return f"“{doc.title}”{dated} is by {doc.author}."
    return f"“{doc.title}”{dated} names no author."


# "Which documents mention Gdansk?", "What articles cover the strike?": a list of documents, each
# with its line on it (one sentence of one of them was quoted).
_WHICH_DOCUMENTS = re.compile(
    r"^\s*(?:(?:which|what)\s+(?:documents?|articles?|stories|reports?|sources|pieces)\s+"
    r"(?:mention|mentions|talk\s+about|are\s+about|is\s+about|cover|covers|discuss|name|names|say\s+anything\s+about)"
    r"|(?:list|show\s+me)\s+(?:the\s+|all\s+(?:the\s+)?)?(?:documents?|articles?|stories|reports?)\s+"
    r"(?:that\s+)?(?:mention(?:ing)?|about|on|covering))\s+(?P<topic>.+?)\s*[?!.]*\s*$",
    re.I,
)


def asks_which_documents(question: str) -> str | None:
    """The topic of "Which documents mention X?" (the words after the verb), or None."""
    found = _WHICH_DOCUMENTS.match(question)
    return found["topic"] if found else None
