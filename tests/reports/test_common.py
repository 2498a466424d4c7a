"""What the reports share: the published numbers."""

from __future__ import annotations

from mnist1d.reports.study import published_results


def test_published_numbers_ship_with_the_package():
    published = published_results()
    assert published["beebe_et_al_runs"]["steps_10000"]["tcn"] == 98.8
    assert published["original_paper_table"]["mnist1d"]["cnn"] == 94
