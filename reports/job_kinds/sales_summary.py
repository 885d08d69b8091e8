"""The sales summary: revenue, orders and units of the built-in demo shop, grouped."""

from datetime import date

from django import forms

from reports import kinds
from reports.forms import ReportForm
from reports.work import demo_shop, sales_query

DATE_FIELDS = ("date_from", "date_to")


class SalesSummaryForm(ReportForm):
    # With a relative period the dates are hidden (CSS :has) and ignored. Not required: a form
    # from before periods existed (a page open across a deploy) means "the dates below".
    period = forms.ChoiceField(label="Period", choices=sales_query.PERIODS.items(), initial="dates", required=False)
    date_from = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    group_by = forms.ChoiceField(label="Group by", choices=sales_query.GROUP_BY.items(), initial="region")
    metric = forms.ChoiceField(label="Metric", choices=sales_query.METRICS.items(), initial="revenue")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        first, last = demo_shop.day_range()
        default = sales_query.default_query(last)
        for name in DATE_FIELDS:
            self.fields[name].widget.attrs.update(min=first.isoformat(), max=last.isoformat())
        self.fields["date_from"].initial = default.date_from
        self.fields["date_to"].initial = default.date_to
        if self.relative_to_run:
            self.fields["period"].help_text = "A period counts back from the day of each run."
            if "date_from" not in self.initial:  # a new schedule (a saved one with dates keeps them)
                self.fields["period"].initial = "last_7_days"

    def clean(self):
        cleaned = super().clean()
        period = cleaned["period"] = cleaned.get("period") or "dates"
        if period != "dates":
            for name in DATE_FIELDS:  # hidden and not used: a stray value there is no error
                self.errors.pop(name, None)
            if self.relative_to_run:
                return cleaned  # each run works out its own dates (sales_query.for_day)
            worked_out = sales_query.for_day({"period": period}, demo_shop.today())
            for name in DATE_FIELDS:
                cleaned[name] = date.fromisoformat(worked_out[name])
        for name, words in (("date_from", "first"), ("date_to", "last")):
            if cleaned.get(name) is None and name not in self.errors:
                self.add_error(name, f"Pick the {words} day, or a period.")
        first, last = demo_shop.day_range()
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
        if self.relative_to_run and data["period"] != "dates":
            return {"params": {"period": data["period"], "group_by": data["group_by"], "metric": data["metric"]}}
        query = sales_query.SalesQuery(
            data["date_from"], data["date_to"], data["group_by"], data["metric"], data["period"]
        )
        return {"params": query.as_params()}


def for_run(params: dict, day) -> dict:
    return sales_query.for_day(params, demo_shop.today(day))


SALES_SUMMARY = kinds.register(
    kinds.JobKind(
        name="sales_summary",
        title="Sales summary",
        description="Revenue, orders and units from the built-in demo shop (two years of orders that "
        "move with the calendar), grouped by region, product or month.",
        form=SalesSummaryForm,
        run="reports.work.runs.run_sales_summary",
        describe=sales_query.describe,
        result_partial="reports/job_detail.html#sales-result",
        for_run=for_run,
    )
)
