"""Exports for reports: heatmaps as SVG and PNG, tables as CSV.

- :mod:`~service.export.heatmap`: a version's matrix as rows of verdict codes (the
  dashboard builds it from a run's cells);
- :mod:`~service.export.svg`: the heatmap as a standalone SVG (written by hand);
- :mod:`~service.export.heatmap_png`: the same as a PNG, drawn on
  :mod:`~service.export.raster` and encoded by :mod:`~service.export.png`
  (pure Python, zlib and struct) with the bitmap font of :mod:`~service.export.font`;
- :mod:`~service.export.palette`: the colours shared with the dashboard;
- :mod:`~service.export.tables`: any table as CSV, safe to open in a spreadsheet.
"""

from service.export.heatmap import Heatmap, code_of, column_label, row_label
from service.export.heatmap_png import heatmap_png
from service.export.png import encode_png, read_png_rgb
from service.export.svg import heatmap_svg
from service.export.tables import Table, csv_filename, table_csv

__all__ = [
    "Heatmap",
    "Table",
    "code_of",
    "column_label",
    "csv_filename",
    "encode_png",
    "heatmap_png",
    "heatmap_svg",
    "read_png_rgb",
    "row_label",
    "table_csv",
]
