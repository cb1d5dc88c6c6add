"""The form renderer: Django's own, with its `<select>`, `<option>`, `<input>` and
`<textarea>` widget templates written out in Python.

Why (console benchmark, issue 11): a filter bar and a bulk form render a few hundred
`<option>`s per page (60 case kinds, the owners, the groups...), each one a template
`{% include %}` of `select_option.html` and `attrs.html`: about two thirds of a queue page's
time went to them. The Python renderers below print the same characters as Django's
templates (tests/foundation/test_form_renderer.py renders every such widget both ways and
compares; the test pins Django's template texts, so an upgrade that changes them fails
there). Any other template (a project override of these widgets, a custom
`option_template_name`, a field or form layout) goes through the templates as before.

This is the one adapter module that reads Django's widget context (see STYLE.md).
"""

from django.forms.renderers import DjangoTemplates
from django.template import Context
from django.template.base import render_value_in_context
from django.utils.html import conditional_escape
from django.utils.safestring import SafeData

_WIDGETS = "django/forms/widgets/"
SELECT = _WIDGETS + "select.html"
OPTION = _WIDGETS + "select_option.html"
TEXTAREA = _WIDGETS + "textarea.html"
# The templates whose whole text is `{% include "django/forms/widgets/input.html" %}`.
INPUTS = frozenset(
    _WIDGETS + f"{name}.html"
    for name in (
        "input", "text", "hidden", "number", "email", "url", "search", "tel", "password",
        "date", "datetime", "time", "color", "checkbox",
    )
)  # fmt: skip

# The context a template gives `{{ value }}`: autoescape on, localization as the settings say.
_CONTEXT = Context(autoescape=True)


def _text(value) -> str:
    """`{{ value }}`: localized, then escaped unless safe."""
    return render_value_in_context(value, _CONTEXT)


def _stringformat(value) -> str:
    """`{{ value|stringformat:'s' }}`: "%s" of it (a tuple as its str), escaped unless the
    value was safe (the filter keeps safeness)."""
    text = "%s" % (str(value) if isinstance(value, tuple) else value)
    return text if isinstance(value, SafeData) else conditional_escape(text)


def _attrs(attrs: dict) -> str:
    """attrs.html."""
    parts = []
    for name, value in attrs.items():
        if value is False:
            continue
        parts.append(
            f" {_text(name)}" if value is True else f' {_text(name)}="{_stringformat(value)}"'
        )
    return "".join(parts)


def _input(widget: dict) -> str:
    value = widget["value"]
    shown = f' value="{_stringformat(value)}"' if value is not None else ""
    kind, name = _text(widget["type"]), _text(widget["name"])
    return f'<input type="{kind}" name="{name}"{shown}{_attrs(widget["attrs"])}>'


def _option(option: dict) -> str:
    return (
        f'<option value="{_stringformat(option["value"])}"{_attrs(option["attrs"])}>'
        f"{_text(option['label'])}</option>\n"
    )


def _select(widget: dict) -> str | None:
    parts = [f'<select name="{_text(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, group_choices, _index in widget["optgroups"]:
        if group_name:
            parts.append(f'\n  <optgroup label="{_text(group_name)}">')
        for option in group_choices:
            if option["template_name"] != OPTION:
                return None
            parts.append("\n  " + _option(option))
        if group_name:
            parts.append("\n  </optgroup>")
    parts.append("\n</select>")
    return "".join(parts)


def _textarea(widget: dict) -> str:
    value = widget["value"]
    body = _text(value) if value else ""
    return f'<textarea name="{_text(widget["name"])}"{_attrs(widget["attrs"])}>\n{body}</textarea>'


class FormRenderer(DjangoTemplates):
    """FORM_RENDERER: the widgets above in Python, everything else through the templates."""

    def render(self, template_name, context, request=None):
        html = None
        widget = context.get("widget") if isinstance(context, dict) else None
        if widget is not None and self._stock():
            if template_name == SELECT:
                html = _select(widget)
            elif template_name in INPUTS:
                html = _input(widget)
            elif template_name == TEXTAREA:
                html = _textarea(widget)
        if html is None:
            return super().render(template_name, context, request=request)
        return html.strip()

    def _stock(self) -> bool:
        """Whether the engine finds every one of these templates in Django's own forms
        templates (no project or app override of them): otherwise the templates are the
        truth for all of them."""
        if "_is_stock" not in self.__dict__:
            names = [SELECT, OPTION, TEXTAREA, _WIDGETS + "attrs.html", *INPUTS]
            self._is_stock = all(
                self.get_template(name)
                .origin.name.replace("\\", "/")
                .endswith("django/forms/templates/" + name)
                for name in names
            )
        return self._is_stock
