"""The sales summary: revenue, orders and units of the built-in demo shop, grouped."""

from reports import kinds
from reports.forms import SalesSummaryForm
from reports.work import sales_query


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
