"""Splitting a filter or order_by string into tokens: identifiers, literals, operators, words.

The language is a small subset of SQL; a hand-written scanner keeps error messages precise
(the position and what was expected) and has no dependency on a general SQL parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from mlkube_operator.server.errors import MlflowError, invalid


class T(Enum):
    IDENT = "identifier"
    STRING = "string"
    NUMBER = "number"
    OP = "comparator"
    LPAREN = "("
    RPAREN = ")"
    COMMA = ","
    WORD = "keyword"
    END = "end of input"


@dataclass(frozen=True, slots=True)
class Token:
    kind: T
    text: str
    pos: int
    # The source text of a quoted literal, quotes included (IN lists read it as MLflow does).
    raw: str = ""
    # An IDENT that is one double-quoted literal and nothing else: a key before a comparator
    # (``"run_name" = 'x'``), a string after one (``params.model = "tree"``), as in MLflow.
    quoted: bool = False

    def string(self) -> str | None:
        """The value of a single- or double-quoted literal; None for any other token."""
        return self.text if self.kind is T.STRING or self.quoted else None


KEYWORDS = {"AND", "OR", "IS", "NOT", "NULL", "LIKE", "ILIKE", "IN", "ASC", "DESC"}
_OPERATORS = ("<=", ">=", "!=", "<>", "==", "=", "<", ">")
_IDENT_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-:/")


# A quoted run, as MLflow's SQL tokenizer (sqlparse) finds it: a doubled quote, or for single
# and double quotes a backslash before one, does not end it. The alternatives overlap only
# where taking the shorter one ends the run, so a failing match backtracks in linear time.
_QUOTED = {
    "'": re.compile(r"'(?:''|\\'|[^'])*'", re.DOTALL),
    '"': re.compile(r'"(?:""|\\"|[^"])*"', re.DOTALL),
    "`": re.compile(r"`(?:``|[^`])*`", re.DOTALL),
}


def _quoted(text: str, start: int, quote: str) -> tuple[str, int]:
    """The content of a quoted run starting at ``start`` and the index after its closing quote.

    As in MLflow, which drops only the outer quotes, the content is kept as written:
    ``'it''s'`` is the five characters ``it''s``. To search for a quote, quote with the other
    kind: ``"it's"``.
    """
    found = _QUOTED[quote].match(text, start)
    if found is None:
        raise invalid(f"unterminated {quote}-quoted text starting at position {start} in {text!r}")
    return text[start + 1 : found.end() - 1], found.end()


def _number(text: str, start: int) -> int:
    """The index after the number starting at ``start`` (signs only lead or follow an 'e')."""
    i = start + 1
    while i < len(text) and (text[i].isalnum() or text[i] in ".+-"):
        if text[i] in "+-" and text[i - 1] not in "eE":
            break
        i += 1
    return i


def _key(text: str, i: int) -> tuple[str, int]:
    """A run of key characters and quoted or backticked text, joined, and the index after it."""
    out = ""
    while i < len(text):
        char = text[i]
        if char in '`"':
            value, i = _quoted(text, i, char)
            out += value
        elif char in _IDENT_CHARS:
            out += char
            i += 1
        else:
            break
    return out, i


def _identifier(text: str, start: int) -> tuple[Token, int]:
    """An identifier: ``key`` or ``entity.key``. Only the first dot separates the entity type
    from the key, since keys hold dots themselves (tags.mlflow.user)."""
    head = ""
    i = start
    while i < len(text) and text[i] != ".":
        char = text[i]
        if char in '`"':
            value, i = _quoted(text, i, char)
            head += value
        elif char in _IDENT_CHARS:
            head += char
            i += 1
        else:
            break
    if i < len(text) and text[i] == ".":
        key, end = _key(text, i + 1)
        if not key:
            raise invalid(f"expected a key after '.' at position {i} in {text!r}")
        return Token(T.IDENT, head + "\x00" + key, start), end
    if head.upper() in KEYWORDS and text[start] not in '`"':
        return Token(T.WORD, head.upper(), start), i
    if text[start] == '"' and _quoted(text, start, '"')[1] == i:
        return Token(T.IDENT, head, start, raw=text[start:i], quoted=True), i
    return Token(T.IDENT, head, start), i


def tokenize(text: str) -> list[Token]:
    """Tokens of ``text``; an entity-qualified identifier holds NUL between entity and key."""
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
        elif char == "'":
            value, end = _quoted(text, i, "'")
            tokens.append(Token(T.STRING, value, i, raw=text[i:end]))
            i = end
        elif char in "(),":
            kind = {"(": T.LPAREN, ")": T.RPAREN, ",": T.COMMA}[char]
            tokens.append(Token(kind, char, i))
            i += 1
        elif any(text.startswith(op, i) for op in _OPERATORS):
            op = next(op for op in _OPERATORS if text.startswith(op, i))
            tokens.append(Token(T.OP, {"==": "=", "<>": "!="}.get(op, op), i))
            i += len(op)
        elif char.isdigit() or (
            char in "+-." and i + 1 < len(text) and (text[i + 1].isdigit() or text[i + 1] == ".")
        ):
            end = _number(text, i)
            tokens.append(Token(T.NUMBER, text[i:end], i))
            i = end
        elif char in '`"' or char in _IDENT_CHARS:
            token, i = _identifier(text, i)
            tokens.append(token)
        else:
            raise invalid(f"unexpected character {char!r} at position {i} in {text!r}")
    tokens.append(Token(T.END, "", len(text)))
    return tokens


class Cursor:
    """Walks a token list with one-token lookahead and precise "expected X" errors."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0

    def peek(self) -> Token:
        return self.tokens[self.index]

    def next(self) -> Token:
        token = self.tokens[self.index]
        if token.kind is not T.END:
            self.index += 1
        return token

    def accept_word(self, word: str) -> bool:
        token = self.peek()
        if token.kind is T.WORD and token.text == word:
            self.index += 1
            return True
        return False

    def expect(self, kind: T, what: str | None = None) -> Token:
        token = self.next()
        if token.kind is not kind:
            raise self.error(token, what or kind.value)
        return token

    def error(self, token: Token, expected: str) -> MlflowError:
        got = "the end" if token.kind is T.END else repr(token.text.replace("\x00", "."))
        return invalid(
            f"invalid search expression {self.text!r}: expected {expected} at position "
            f"{token.pos}, got {got}"
        )
