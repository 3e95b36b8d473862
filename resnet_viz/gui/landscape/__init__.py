"""The Loss landscape tab (issue 16): slices of a trained network's loss, its training path, figures.

Modules: levels (log colour scale, refined grid, ticks), plot2d / plot1d (one landscape on plots), figure
(one or two landscapes on one colour scale), render (offscreen PNG/SVG files), export (CSV, GIF, dispatch),
view3d (OpenGL surface, optional), controls (the left column), runner (the background job), tab_files
(dialogs), tab (LandscapeTab).
"""
