from django.db import connection
from django.http import JsonResponse


def health(request):
    """Liveness with one database round trip (load balancers; the benchmarks' baseline endpoint)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        ok = cursor.fetchone()[0] == 1
    return JsonResponse({"ok": ok})
