"""Section *news*: POSTs per second (1 and 16 posters), OVER of 1,000 articles, ARTICLE fetches.

No peer is started for the news host: its figures stand alone.
"""

from __future__ import annotations

from tools.bench.figures import Figures
from tools.bench.settings import Settings
from tools.bench.testbed import Testbed
from tools.measure import MeasureError

GROUP = "lab.test"


class News:
    def __init__(self, bed: Testbed, figures: Figures, s: Settings) -> None:
        self.bed, self.figures, self.s = bed, figures, s

    def measure(self, r: int) -> None:
        bed, s, fig = self.bed, self.s, self.figures.fig
        for clients, count in s.news_posts:
            f = fig(f"news.post.c{clients}", "news", f"POST, {clients} poster{'s' if clients > 1 else ''}",
                    "posts/s", "higher")

            def post() -> dict:
                res = bed.load("nntp-post", "--host", "news", "--group", GROUP, "--clients", str(clients),
                               "--articles", str(count), "--seconds", str(s.news_seconds))
                if res["errors"]:
                    raise MeasureError(f"{res['errors']} posters failed: {res['first_error']}")
                bed.progress(f"  POST with {clients} poster{'s' if clients > 1 else ''}: {res['rate']:.1f}/s, "
                             f"p99 {res['p99_ms']} ms")
                return res

            res = self.figures.measure([f], r, post)
            f.add(res and res["rate"])
        n = s.news_over
        over = fig("news.over", "news", f"OVER of {n:,} articles", "s", "lower")

        def over_all() -> float:
            have = bed.load("nntp-group", "--host", "news", "--group", GROUP)["count"]
            if have < n:
                bed.progress(f"  posting {n - have} articles first, so that {GROUP} holds {n:,} (not timed)")
                bed.load("nntp-post", "--host", "news", "--group", GROUP, "--clients", "8",
                         "--articles", str(n - have), "--seconds", "120")
            res = bed.load("nntp-over", "--host", "news", "--group", GROUP, "--articles", str(n))
            if res["done"] < n:
                raise MeasureError(f"OVER gave {res['done']} lines, not {n}")
            bed.progress(f"  OVER of {n} articles: {res['seconds'] * 1000:.0f} ms")
            return res["seconds"]

        over.add(self.figures.measure([over], r, over_all))
        for clients, fetches in s.news_fetches:
            f = fig(f"news.article.c{clients}", "news",
                    f"ARTICLE fetches, {clients} reader{'s' if clients > 1 else ''}", "articles/s", "higher")

            def fetch() -> dict:
                res = bed.load("nntp-article", "--host", "news", "--group", GROUP, "--clients", str(clients),
                               "--fetches", str(fetches), "--articles", str(n), "--seconds", str(s.news_seconds))
                if res["errors"] or not res["done"]:
                    raise MeasureError(f"{res['errors']} readers failed: {res['first_error']}")
                bed.progress(f"  ARTICLE with {clients} reader{'s' if clients > 1 else ''}: {res['rate']:.0f}/s, "
                             f"p99 {res['p99_ms']} ms")
                return res

            res = self.figures.measure([f], r, fetch)
            f.add(res and res["rate"])
