"""Small helpers shared by the stack modules: template, parameter and output boilerplate."""

from __future__ import annotations

from troposphere import Output, Parameter, Template

# Every template says what it is and which environment it belongs to.
TEMPLATE_FORMAT = "2010-09-09"


def new_template(env_name: str, what: str) -> Template:
    t = Template()
    t.set_version(TEMPLATE_FORMAT)
    t.set_description(f"InsightXI {env_name}: {what}")
    return t


def add_output(t: Template, name: str, value: object, description: str) -> Output:
    return t.add_output(Output(name, Value=value, Description=description))


def add_parameter(t: Template, name: str, description: str, **kwargs: object) -> Parameter:
    return t.add_parameter(Parameter(name, Description=description, Type="String", **kwargs))
