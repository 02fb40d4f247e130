"""The one carrier of form errors: field -> message, used by pure rules, services and the pages alike.

Pure (no web imports), so a rule that checks a whole form can return or raise the same object the templates render
as the NHS.UK error summary, with a link to each field.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from dps.errors import ValidationFailed


@dataclass
class FormErrors:
    """Field -> message, in the order found; the first message for a field wins (it is usually the most basic)."""

    messages: dict[str, str] = field(default_factory=dict)

    def add(self, field_name: str, message: str) -> None:
        self.messages.setdefault(field_name, message)

    def add_all(self, other: FormErrors | Mapping[str, str], prefix: str = "") -> None:
        """Every message of `other`, its field names prefixed (a section's fields inside a bigger form)."""
        pairs = other.messages if isinstance(other, FormErrors) else other
        for field_name, message in pairs.items():
            self.add(prefix + field_name, message)

    def add_error(self, error: ValidationFailed, default_field: str = "form", prefix: str = "") -> None:
        """A refused rule's message(s), against its field (or `default_field` when it names none)."""
        if isinstance(error, InputInvalid):
            self.add_all(error.errors, prefix)
        else:
            self.add(prefix + (error.field or default_field), str(error))

    def on_field(self, field_name: str) -> FormErrors:
        """The first message, against one field: a form with one box per row ("note-7") whose rule names the box's
        kind ("note")."""
        return FormErrors({field_name: next(iter(self.messages.values()))} if self.messages else {})

    def ordered(self, field_names: Iterable[str]) -> FormErrors:
        """The same errors listed in the page's order of `field_names` (any other fields after them)."""
        order = {name: position for position, name in enumerate(field_names)}
        return FormErrors(dict(sorted(self.messages.items(), key=lambda item: order.get(item[0], len(order)))))

    def message(self, field_name: str) -> str | None:
        return self.messages.get(field_name)

    def get(self, field_name: str) -> dict[str, str] | None:
        """The NHS.UK components' `errorMessage` for one field, or None when it has no error."""
        message = self.messages.get(field_name)
        return {"text": message} if message else None

    def summary(self) -> list[dict[str, str]]:
        """The NHS.UK error summary's list: each message links to its field."""
        return [{"text": message, "href": f"#{name}"} for name, message in self.messages.items()]

    def __bool__(self) -> bool:
        return bool(self.messages)

    def __contains__(self, field_name: object) -> bool:
        return field_name in self.messages

    def __iter__(self) -> Iterator[str]:
        return iter(self.messages)

    def __len__(self) -> int:
        return len(self.messages)

    @classmethod
    def of(cls, messages: Mapping[str, str]) -> FormErrors:
        return cls(dict(messages))

    @classmethod
    def from_error(cls, error: ValidationFailed, default_field: str = "form", prefix: str = "") -> FormErrors:
        errors = cls()
        errors.add_error(error, default_field, prefix)
        return errors


class InputInvalid(ValidationFailed):
    """One or more fields of a form are wrong; `errors` names each, in the form's order.

    A ValidationFailed (naming the first field), so anything that only knows that class still shows a clear page.
    """

    def __init__(self, errors: FormErrors) -> None:
        if not errors:
            raise ValueError("InputInvalid needs at least one field error")
        first_field = next(iter(errors))
        super().__init__(errors.messages[first_field], field=first_field)
        self.errors = errors


def label_in_sentence(label: str) -> str:
    """A question's label as it reads inside a sentence: "Annual turnover" -> "annual turnover"; an acronym
    ("VAT", "DTAC version") keeps its capitals."""
    if len(label) > 1 and label[1].isupper():
        return label
    return label[:1].lower() + label[1:]


# Ids are 32-bit in every table that PostgreSQL keys with `integer`: a larger one can only be a wrong address.
MAX_ID = 2**31 - 1
_ASCII_DIGITS = frozenset("0123456789")


def whole_number(text: str | None, *, maximum: int = MAX_ID) -> int | None:
    """`text` as a whole number from 0 to `maximum`, or None. Only the ASCII digits 0-9 count: `str.isdigit()`
    also accepts "²" and other Unicode digits, which `int()` then refuses or reads as another number."""
    cleaned = (text or "").strip()
    if not cleaned or not _ASCII_DIGITS.issuperset(cleaned) or len(cleaned) > len(str(maximum)):
        return None
    number = int(cleaned)
    return number if number <= maximum else None
