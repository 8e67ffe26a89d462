"""The sanitizer for model outputs (the browser test checks nothing executes)."""

from reviewers.rendering import markdown_safe


def test_markdown_safe_escapes_raw_html():
    html = markdown_safe('<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1">')
    assert "<script" not in html
    assert "<img" not in html
    assert "&lt;script&gt;" in html


def test_markdown_safe_drops_javascript_links():
    html = markdown_safe(
        "[a](javascript:window.__pwned=1) [b](JaVaScRiPt:x) [c](data:text/html,x) [d](https://ok.example)"
    )
    assert 'href="javascript' not in html.lower()
    assert "data:" not in html.split("[c]")[0]
    assert '<a href="https://ok.example" rel="noopener noreferrer nofollow">d</a>' in html
    assert html.count("<a ") == 1


def test_markdown_safe_keeps_code_blocks_escaped():
    html = markdown_safe("```python\nprint('<b>x</b>')\n```")
    assert html == "<pre><code class=\"language-python\">print('&lt;b&gt;x&lt;/b&gt;')\n</code></pre>\n"


def test_markdown_safe_mailto_allowed():
    assert 'href="mailto:a@b.example"' in markdown_safe("[m](mailto:a@b.example)")


def test_markdown_safe_keeps_single_line_breaks():
    html = markdown_safe("An old silent pond\nA frog jumps into the pond\nSplash! Silence again.")
    assert html == "<p>An old silent pond<br>\nA frog jumps into the pond<br>\nSplash! Silence again.</p>\n"


def test_markdown_safe_keeps_leading_spaces_of_a_line():
    html = markdown_safe("An old silent pond\n   a frog jumps in\n      splash! Silence again.")
    assert html == (
        "<p>An old silent pond<br>\n&nbsp;&nbsp;&nbsp;a frog jumps in<br>\n"
        "&nbsp;&nbsp;&nbsp;&nbsp;&nbsp;&nbsp;splash! Silence again.</p>\n"
    )


def test_markdown_safe_keeps_whitespace_inside_code_blocks():
    fenced = markdown_safe("```python\ndef f():\n    return  1\n\n\n    # end\n```")
    assert fenced == '<pre><code class="language-python">def f():\n    return  1\n\n\n    # end\n</code></pre>\n'
    indented = markdown_safe("    code block\n      two deeper")
    assert indented == "<pre><code>code block\n  two deeper\n</code></pre>\n"


def test_markdown_safe_nested_lists_unchanged_by_kept_indents():
    assert markdown_safe("- a\n  - b\n- c") == "<ul>\n<li>a\n<ul>\n<li>b</li>\n</ul>\n</li>\n<li>c</li>\n</ul>\n"
