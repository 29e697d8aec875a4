"""The dashboard's chaos pages, apart from their views (service.dashboard.views.chaos):

- :mod:`.drawing`: an experiment's timeline, and a step's close-up, laid out as SVG
  shapes; with :mod:`.axis` (geometry, phases on the axis, ticks), :mod:`.titles`
  (what is written over the phases) and :mod:`.svg` (the shapes and their helpers);
- :mod:`.figures`: per step its convergence, windows and cells, in numbers and words;
- :mod:`.listing`: each scenario's latest experiment, and each step's trend;
- :mod:`.palette`: the colours and words of phases and observations.
"""
