"""The course as a whole: the notebooks run into an HTML report, and the student versions of them.

    fmlab report --profile smoke       # run_course("smoke"), then results.summary_table
    fmlab labs build --out DIR         # labs.build(DIR)

runner.py executes the notebooks with papermill; export.py writes each as HTML that needs no network;
index.py writes the report's index page; results.py reads what the notebooks recorded (key metrics, results
below their baseline); labs.py builds the student notebooks (exercises.py finds the exercises and strips their solutions). A notebook itself only calls
``fmlab.report.record``.
"""
from .runner import REPO, notebooks, run_course

__all__ = ["REPO", "notebooks", "run_course"]
