"""`python -m app.streamlit_child PARENT_PID ARGS...`: Streamlit's own command line (`streamlit ARGS...`) in a
process that ends when `marquee app` (PARENT_PID) dies. Ctrl-C and SIGTERM stop Streamlit through `marquee app`;
`kill -9` of it cannot, and a Streamlit server left behind keeps serving and holds the port."""
from __future__ import annotations

import sys

from data.parent_watch import exit_with_parent


def main() -> None:
    exit_with_parent(int(sys.argv[1]))
    from streamlit.web.cli import main as streamlit

    sys.argv = ["streamlit", *sys.argv[2:]]
    streamlit(prog_name="streamlit")


if __name__ == "__main__":
    main()
