"""Console pages of erp_sync."""

app_name = "erp_sync"
urlpatterns: list = []
