"""The sales summary: revenue, orders and units of the built-in demo shop, grouped."""

from django import forms

from reports import kinds
from reports.forms import ReportForm
from reports.work import sales_query


class SalesSummaryForm(ReportForm):
    date_from = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))
    group_by = forms.ChoiceField(label="Group by", choices=sales_query.GROUP_BY.items(), initial="region")
    metric = forms.ChoiceField(label="Metric", choices=sales_query.METRICS.items(), initial="revenue")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        first, last = sales_query.day_range()
        default = sales_query.default_query()
        for name in ("date_from", "date_to"):
            self.fields[name].widget.attrs.update(min=first.isoformat(), max=last.isoformat())
        self.fields["date_from"].initial = default.date_from
        self.fields["date_to"].initial = default.date_to

    def clean(self):
        cleaned = super().clean()
        first, last = sales_query.day_range()
        date_from, date_to = cleaned.get("date_from"), cleaned.get("date_to")
        if date_from and date_to:
            if date_from > date_to:
                self.add_error("date_to", "The end date is before the start date.")
            elif date_to < first or date_from > last:
                self.add_error(
                    "date_from",
                    f"The demo data covers {first:%-d %b %Y} to {last:%-d %b %Y}; pick dates in that range.",
                )
        return cleaned

    def job_inputs(self) -> dict:
        data = self.cleaned_data
        query = sales_query.SalesQuery(data["date_from"], data["date_to"], data["group_by"], data["metric"])
        return {"params": query.as_params()}


def describe(params: dict) -> str:
    return sales_query.subtitle(sales_query.SalesQuery.from_params(params))


SALES_SUMMARY = kinds.register(
    kinds.JobKind(
        name="sales_summary",
        title="Sales summary",
        description="Revenue, orders and units from the built-in demo shop (500,000 orders over two years), "
        "grouped by region, product or month.",
        form=SalesSummaryForm,
        run="reports.work.runs.run_sales_summary",
        describe=describe,
        result_partial="reports/job_detail.html#sales-result",
    )
)
