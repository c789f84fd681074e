"""report.show: how the report's tables are formatted."""

import pandas as pd

from mrkit.experiments.report import show


def test_a_styled_table_keeps_three_decimals_beside_a_column_with_a_format_of_its_own():
    table = pd.DataFrame({"start-up (s)": [0.0218951, None], "gaps": [6.0, 12.0]})
    cells = show.styled(table, {"gaps": "{:g}"}).to_html()
    assert ">0.022<" in cells and "0.021895" not in cells, "the other columns keep 3 decimals"
    assert ">6<" in cells and ">12<" in cells and ">–<" in cells
    assert ">0.022<" in show.styled(table).to_html()
