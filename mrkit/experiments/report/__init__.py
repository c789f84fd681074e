"""The report: Markdown text, answers, figures, the notebook's display, the checks, the HTML export and the interactive lab."""
