"""Writes the example notebooks; edit the cells here and run `python notebooks/make_notebooks.py`
from the repository root, so the notebooks stay reviewable as code."""

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook


def nb(cells):
    n = new_notebook(cells=cells)
    n.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return n


md, code = new_markdown_cell, new_code_cell

quickstart = nb(
    [
        md(
            "# jupyter-mux quickstart\n\nOne OpenAI-compatible URL for every model: the active "
            "*workspace* decides which provider and model answer. Start the server with "
            "`jupyter mux demo` to get two tiny local models (`demo-a`, `demo-b`) and no API key."
        ),
        code(
            "import jupyter_mux\n\nclient = jupyter_mux.openai_client()  # this server's mux, this server's token\n"
            "mux = jupyter_mux.MuxClient()\n"
            'print("mux URL:", client.base_url)\n'
            'print("active workspace:", mux.active())'
        ),
        md(
            "Ask a question. The `model` you send is a placeholder: the workspace picks the model, "
            "and the answer says which one served it."
        ),
        code(
            "def ask(question):\n"
            "    raw = client.chat.completions.with_raw_response.create(\n"
            '        model="any", messages=[{"role": "user", "content": question}], max_tokens=16)\n'
            "    answer = raw.parse()\n"
            '    print("workspace:", raw.headers["x-mux-workspace"], "| model:", answer.model)\n'
            "    print(answer.choices[0].message.content)\n"
            "    return answer.model\n\n"
            'first = ask("Say hello.")'
        ),
        md(
            "Switch the active workspace with one line; the very next request goes to the other model."
        ),
        code(
            'mux.activate("demo-b")\nsecond = ask("Say hello.")\nassert first != second, (first, second)'
        ),
        md("Streaming works the same way, chunk by chunk:"),
        code(
            "for chunk in client.chat.completions.create(\n"
            '        model="any", messages=[{"role": "user", "content": "Count to five."}],\n'
            "        max_tokens=16, stream=True):\n"
            "    if chunk.choices and chunk.choices[0].delta.content:\n"
            '        print(chunk.choices[0].delta.content, end="", flush=True)\nprint()'
        ),
        md(
            "Pin a workspace for one client whatever is active, e.g. a sensitive project that must "
            "stay on a local model:"
        ),
        code(
            'pinned = jupyter_mux.openai_client(workspace="demo-a")\n'
            'print(pinned.chat.completions.create(model="any", max_tokens=8,\n'
            '      messages=[{"role": "user", "content": "Hi"}]).model)\n'
            'mux.activate("default")'
        ),
    ]
)

widgets = nb(
    [
        md(
            "# The mux panel in a notebook\n\nPick the active workspace and its model, see the "
            "providers, add one. Changes made in the JupyterLab panel or over REST show up on "
            "*Refresh*."
        ),
        code("from jupyter_mux import MuxPanel\n\npanel = MuxPanel()\npanel"),
        md("The panel is a regular ipywidget, so a script can drive it too:"),
        code(
            'panel.workspace_picker.value = "demo-b"\nprint(panel.last_feedback)\nprint("active:", panel.client.active())'
        ),
        code(
            'panel.workspace_picker.value = "default"\npanel.refresh()\nprint("active:", panel.active)'
        ),
    ]
)

magics = nb(
    [
        md("# `%mux` magics"),
        code("%load_ext jupyter_mux"),
        code("%mux"),
        code("%mux workspaces"),
        code("%mux providers"),
        code("%mux use demo-b"),
        md("`%%mux` sends the cell as a prompt and streams the answer as Markdown:"),
        code("%%mux -m 16\nWrite a haiku about notebooks."),
        code("%%mux -w demo-a -m 16\nThe same question, pinned to another workspace."),
        code("%mux use default"),
    ]
)

langchain = nb(
    [
        md(
            "# jupyter-ai and LangChain through the mux\n\n"
            "**jupyter-ai**: in the chat settings choose the *OpenAI (general interface)* model, "
            "set its base API URL to the mux URL printed below, any model name, and the Jupyter "
            "token as the API key. Switching the workspace then switches jupyter-ai's model.\n\n"
            "**LangChain**: `ChatOpenAI` pointed at the same URL."
        ),
        code(
            'import jupyter_mux\n\nserver = jupyter_mux.find_server()\nmux_url = server.url + "mux/v1"\nprint("base API URL:", mux_url)'
        ),
        code(
            "from langchain_openai import ChatOpenAI\n\n"
            'llm = ChatOpenAI(base_url=mux_url, api_key=server.token, model="mux", max_tokens=16)\n'
            'reply = llm.invoke("Say hello in three words.")\n'
            'print(reply.response_metadata.get("model_name"), "->", reply.content)'
        ),
        code(
            'for piece in llm.stream("Name a colour."):\n    print(piece.content, end="", flush=True)\nprint()'
        ),
    ]
)

for name, notebook in {
    "quickstart": quickstart,
    "widgets": widgets,
    "magics": magics,
    "langchain": langchain,
}.items():
    nbformat.write(notebook, f"notebooks/{name}.ipynb")
