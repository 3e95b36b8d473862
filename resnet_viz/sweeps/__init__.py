"""Sweeps: configs × seeds, trained on local processes or on Ray, each trial a run folder, resumable.

:mod:`.spec` says what a sweep is (a base config, axes of field values, seeds) and :mod:`.spec_file`
reads one from JSON or YAML; :mod:`.folder` keeps ``sweep.json`` (the spec, versions, each trial's
status); :mod:`.runner` trains the missing trials through a scheduler pool and writes their run
folders; :mod:`.summary` turns the trials into one row per config (mean ± std over seeds) with the
published number of :mod:`.published` beside it.
"""
