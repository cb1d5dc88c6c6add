"""Widgets of the one filter bar (django-filter) that the console's lists share."""

from django_filters.widgets import DateRangeWidget


class LabelledDateRangeWidget(DateRangeWidget):
    """A from/to pair whose two inputs each carry an accessible name ("Issued: from",
    "Issued: until"): one <label> around two inputs names neither (axe rule `label`)."""

    def __init__(self, *, label: str, attrs=None):
        self.label = label
        super().__init__(attrs)

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        for subwidget, word in zip(
            context["widget"]["subwidgets"], ("from", "until"), strict=False
        ):
            subwidget["attrs"]["aria-label"] = f"{self.label}: {word}"
        return context


def date_range(label: str, **attrs) -> LabelledDateRangeWidget:
    return LabelledDateRangeWidget(label=label, attrs=attrs or None)
