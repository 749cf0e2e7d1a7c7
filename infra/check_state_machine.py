#!/usr/bin/env python3
"""Static checks of the QueryEngine wiring in infra/template.yaml, beyond what cfn-lint sees.

    .services/infra-venv/sam/bin/python infra/check_state_machine.py [infra/template.yaml]   (infra/check.sh runs it)

cfn-lint validates an AWS::Serverless::StateMachine's properties but not the states of its Definition, so this
script checks them itself (standard library and PyYAML), then runs cfn-lint's own state machine schema (rule
E3601) on the definition with its substitutions filled in:

- the QueryEngine parameter and its conditions; one daily schedule enabled per engine (the function's with
  Lambda, the state machine's with Athena), both under the dead-letter queue's policy;
- the definition: StartAt, every Next / Default / Catch Next names a state of its scope, every state that does not
  end has a successor, every state is reachable, every ${name} has a substitution and every substitution is used;
- Plan -> DecodeParts -> Clean -> Queries -> Results: the Lambda payloads use exactly the stages "plan" (with the
  event's time), "clean" (with run_date and run_id) and "results" (with run_date and unload_prefix) on
  batch-transform; DecodeParts is a Distributed Map over $.parts whose one task gives batch-transform-decode (the
  same binary, more than one at once) the stage "decode_part" of each part, with ResultPath null; the Queries Map
  runs over $.queries with ResultPath null; its task runs $.statement with startQueryExecution.sync in the
  stack's workgroup and Glue database; batch-transform gets CLEAN_PART_MB from CleanPartMB;
- every task outside the dead-letter path has a catch-all that sends to BatchDeadLetterQueue and then fails;
- the state machine's role may invoke both functions, start its own child executions (the Distributed Map), run
  queries in the workgroup and send to the queue;
- the tables sql/*.sql read exist in the Glue database on cleaned/<table>/, and results_<id> for every file;
- the SAM transform (samtranslator, offline) accepts the template and gives the state machine's rule and role the
  Condition UseAthena (`sam validate --lint` only runs cfn-lint, which no longer applies the transform).
Exit status 1 on any failure.
"""

from __future__ import annotations

import copy
import json
import os
import re
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
FUNCTION = "BatchTransformFunction"
DECODE_FUNCTION = "BatchDecodeFunction"
QUEUE = "BatchDeadLetterQueue"
ENGINES = ("Lambda", "Athena")
LAMBDA_SERVICE_ERRORS = {"Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException"}

errors: list[str] = []


def fail(message: str) -> None:
    errors.append(message)


def check(condition: bool, message: str) -> bool:
    if not condition:
        fail(message)
    return condition


# --- loading ----------------------------------------------------------------------------------------------------


class TemplateLoader(yaml.SafeLoader):
    """Reads CloudFormation's short forms (!Ref, !GetAtt, !Sub, !If, ...) as their long forms."""


def _intrinsic(loader: TemplateLoader, suffix: str, node: yaml.Node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


TemplateLoader.add_multi_constructor("!", _intrinsic)


def load(path: Path) -> dict:
    with path.open(encoding="utf-8") as f:
        return yaml.load(f, Loader=TemplateLoader)  # noqa: S506 - SafeLoader subclass


# --- conditions ---------------------------------------------------------------------------------------------------


def evaluate(value, template: dict, params: dict):
    """Evaluates the condition functions this template uses, with the given parameter values."""
    if isinstance(value, dict) and len(value) == 1:
        (key, arg), = value.items()
        if key == "Ref":
            return params.get(arg, {"Ref": arg})
        if key == "Condition":
            return evaluate(template["Conditions"][arg], template, params)
        if key == "Fn::Equals":
            return evaluate(arg[0], template, params) == evaluate(arg[1], template, params)
        if key == "Fn::Not":
            return not evaluate(arg[0], template, params)
        if key == "Fn::And":
            return all(evaluate(a, template, params) for a in arg)
        if key == "Fn::Or":
            return any(evaluate(a, template, params) for a in arg)
        if key == "Fn::If":
            branch = arg[1] if evaluate(template["Conditions"][arg[0]], template, params) else arg[2]
            return evaluate(branch, template, params)
    return value


def parameter_values(template: dict, engine: str) -> dict:
    values = {name: p.get("Default") for name, p in template.get("Parameters", {}).items()}
    values["QueryEngine"] = engine
    return values


def exists(resource: dict, template: dict, params: dict) -> bool:
    condition = resource.get("Condition")
    return condition is None or bool(evaluate(template["Conditions"][condition], template, params))


# --- the definition -----------------------------------------------------------------------------------------------


def scopes(definition: dict, where: str = "Definition"):
    """Yields (where, {StartAt, States}) for the definition and every Map / Parallel scope in it."""
    yield where, definition
    for name, state in (definition.get("States") or {}).items():
        if not isinstance(state, dict):
            continue
        for key in ("ItemProcessor", "Iterator"):
            if isinstance(state.get(key), dict):
                yield from scopes(state[key], f"{where}/{name}/{key}")
        for i, branch in enumerate(state.get("Branches") or []):
            yield from scopes(branch, f"{where}/{name}/Branches/{i}")


def successors(state: dict) -> list[str]:
    names = [state[k] for k in ("Next", "Default") if isinstance(state.get(k), str)]
    names += [c.get("Next") for c in state.get("Choices") or [] if isinstance(c, dict)]
    names += [c.get("Next") for c in state.get("Catch") or [] if isinstance(c, dict)]
    return names


def check_graph(definition: dict) -> None:
    for where, scope in scopes(definition):
        states = scope.get("States")
        if not check(isinstance(states, dict) and states, f"{where}: no States"):
            continue
        start = scope.get("StartAt")
        check(start in states, f"{where}: StartAt {start!r} is not a state")
        for name, state in states.items():
            kind = state.get("Type")
            for target in successors(state):
                check(target in states, f"{where}/{name}: successor {target!r} is not a state of its scope")
            terminal = kind in ("Succeed", "Fail") or state.get("End") is True
            if kind == "Choice":
                check(bool(state.get("Choices")), f"{where}/{name}: a Choice without Choices")
            elif terminal:
                check("Next" not in state, f"{where}/{name}: ends and has a Next")
            else:
                check(isinstance(state.get("Next"), str), f"{where}/{name}: neither End nor Next")
            for catcher in state.get("Catch") or []:
                check(bool(catcher.get("ErrorEquals")), f"{where}/{name}: a Catch without ErrorEquals")
        reached, todo = set(), [start]
        while todo:
            name = todo.pop()
            if name in reached or name not in states:
                continue
            reached.add(name)
            todo.extend(successors(states[name]))
        for name in states:
            check(name in reached, f"{where}/{name}: not reachable from StartAt")


def placeholders(value) -> set[str]:
    if isinstance(value, str):
        return set(re.findall(r"\$\{([^}!][^}]*)\}", value))
    if isinstance(value, dict):
        return set().union(*(placeholders(v) for v in value.values()), *(placeholders(k) for k in value))
    if isinstance(value, list):
        return set().union(*(placeholders(v) for v in value))
    return set()


def substituted(value: str, substitutions: dict):
    """The template value a "${name}" string stands for, or None."""
    m = re.fullmatch(r"\$\{([^}]+)\}", value) if isinstance(value, str) else None
    return substitutions.get(m.group(1)) if m else None


def refers_to(value, resources: dict, logical_id: str | None = None, kind: str | None = None,
              attribute: str | None = None) -> bool:
    """True when value is !Ref (or !GetAtt ....attribute) of the named resource, or of one of the given type."""
    if not isinstance(value, dict):
        return False
    if attribute:
        target = value.get("Fn::GetAtt")
        if not (isinstance(target, list) and target[1:] == [attribute]):
            return False
        target = target[0]
    else:
        target = value.get("Ref")
    if target not in resources:
        return False
    return (logical_id is None or target == logical_id) and (kind is None or resources[target]["Type"] == kind)


def task_resource(state: dict) -> str:
    resource = state.get("Resource", "")
    return resource if isinstance(resource, str) else ""


def check_definition(machine_id: str, props: dict, resources: dict) -> None:
    definition = props.get("Definition")
    if not check(isinstance(definition, dict), f"{machine_id}: no inline Definition"):
        return
    subs = props.get("DefinitionSubstitutions") or {}
    check_graph(definition)

    used = placeholders(definition)
    for name in sorted(used - set(subs)):
        fail(f"{machine_id}: ${{{name}}} has no DefinitionSubstitutions entry")
    for name in sorted(set(subs) - used):
        fail(f"{machine_id}: substitution {name} is not used in the definition")

    states = definition.get("States") or {}
    tasks = {n: s for n, s in states.items() if s.get("Type") == "Task"}
    invokes = {n: s for n, s in tasks.items() if task_resource(s).endswith(":states:::lambda:invoke")}
    sends = {n: s for n, s in tasks.items() if task_resource(s).endswith(":states:::sqs:sendMessage")}
    maps = {n: s for n, s in states.items() if s.get("Type") == "Map"}

    # --- the invocations of batch-transform
    stages: dict[str, str] = {}
    for name, state in invokes.items():
        params = state.get("Parameters") or {}
        check(refers_to(substituted(params.get("FunctionName"), subs), resources, FUNCTION, attribute="Arn"),
              f"{name}: FunctionName is not ${{...}} for !GetAtt {FUNCTION}.Arn")
        payload = params.get("Payload") or {}
        stage = payload.get("stage")
        if check(stage in ("plan", "clean", "results"), f"{name}: Payload stage {stage!r} is not plan, clean or results"):
            check(stage not in stages.values(), f"{name}: a second invocation with stage {stage!r}")
            stages[name] = stage
        check_lambda_task(name, state)
    by_stage = {stage: name for name, stage in stages.items()}
    check(set(by_stage) == {"plan", "clean", "results"}, f"stages invoked: {sorted(by_stage)}, want plan, clean, results")
    plan, clean, results = by_stage.get("plan"), by_stage.get("clean"), by_stage.get("results")
    want_payloads = {
        plan: {"stage": "plan", "time.$": "$.time"},
        clean: {"stage": "clean", "run_date.$": "$.run_date", "run_id.$": "$.run_id"},
        results: {"stage": "results", "run_date.$": "$.run_date", "unload_prefix.$": "$.unload_prefix"},
    }
    for name, want in want_payloads.items():
        if name:
            payload = states[name]["Parameters"]["Payload"]
            check(payload == want, f"{name}: Payload {payload} is not {want}")
    check(plan is not None and definition.get("StartAt") == plan, f"StartAt is not the plan invocation {plan}")
    if results:
        check(states[results].get("End") is True, f"{results}: the results invocation is not the last state")

    maps_by_items = {state.get("ItemsPath"): name for name, state in maps.items()}
    check(set(maps_by_items) == {"$.parts", "$.queries"} and len(maps) == 2,
          f"want two Map states, over $.parts and $.queries; found {sorted(maps)}")

    # --- the parts: a Distributed Map of batch-transform-decode
    decode = maps_by_items.get("$.parts")
    if decode:
        map_state = maps[decode]
        check(plan is not None and states[plan].get("Next") == decode, f"{plan} is not followed by {decode}")
        check(map_state.get("Next") == clean, f"{decode} is not followed by the clean invocation")
        processor = map_state.get("ItemProcessor") or {}
        config = processor.get("ProcessorConfig") or {}
        check(config.get("Mode") == "DISTRIBUTED" and config.get("ExecutionType") == "STANDARD",
              f"{decode}: not a Distributed Map of STANDARD child executions (parts may take 15 minutes)")
        want = {"stage": "decode_part", "run_date.$": "$.run_date", "run_id.$": "$.run_id",
                "part.$": "$$.Map.Item.Value"}
        check(map_state.get("ItemSelector") == want, f"{decode}: ItemSelector is not {want}")
        check("ResultPath" in map_state and map_state["ResultPath"] is None,
              f"{decode}: ResultPath is not null (Clean needs run_date and run_id)")
        concurrency = map_state.get("MaxConcurrency")
        reserved = (resources.get(DECODE_FUNCTION, {}).get("Properties") or {}).get("ReservedConcurrentExecutions")
        check(isinstance(concurrency, int) and isinstance(reserved, int) and 1 < concurrency <= reserved,
              f"{decode}: MaxConcurrency {concurrency!r} is not above 1 and within {DECODE_FUNCTION}'s reserved "
              f"concurrency {reserved!r}")
        tasks_in = {n: t for n, t in (processor.get("States") or {}).items()
                    if task_resource(t).endswith(":states:::lambda:invoke")}
        if check(len(tasks_in) == 1, f"{decode}: want one lambda:invoke task"):
            (task_name, task), = tasks_in.items()
            params = task.get("Parameters") or {}
            check(refers_to(substituted(params.get("FunctionName"), subs), resources, DECODE_FUNCTION, attribute="Arn"),
                  f"{decode}/{task_name}: FunctionName is not ${{...}} for !GetAtt {DECODE_FUNCTION}.Arn")
            check(params.get("Payload.$") == "$", f"{decode}/{task_name}: Payload.$ is not $ (the item)")
            check_lambda_task(f"{decode}/{task_name}", task)
    check_decode_function(resources)

    # --- the queries
    queries_map = maps_by_items.get("$.queries")
    if queries_map:
        map_name, map_state = queries_map, maps[queries_map]
        check(clean is not None and states[clean].get("Next") == map_name, f"Clean is not followed by {map_name}")
        check(map_state.get("Next") == results, f"{map_name} is not followed by the results invocation")
        check("ResultPath" in map_state and map_state["ResultPath"] is None,
              f"{map_name}: ResultPath is not null (Results needs run_date and unload_prefix)")
        concurrency = map_state.get("MaxConcurrency")
        check(isinstance(concurrency, int) and 1 <= concurrency <= 10, f"{map_name}: MaxConcurrency {concurrency!r}")
        processor = map_state.get("ItemProcessor") or map_state.get("Iterator") or {}
        queries = [s for s in (processor.get("States") or {}).values()
                   if task_resource(s).endswith(":states:::athena:startQueryExecution.sync")]
        if check(len(queries) == 1, f"{map_name}: want one athena:startQueryExecution.sync task"):
            params = queries[0].get("Parameters") or {}
            check(params.get("QueryString.$") == "$.statement", f"{map_name}: QueryString.$ is not $.statement")
            check(refers_to(substituted(params.get("WorkGroup"), subs), resources, kind="AWS::Athena::WorkGroup"),
                  f"{map_name}: WorkGroup is not the stack's AWS::Athena::WorkGroup")
            database = (params.get("QueryExecutionContext") or {}).get("Database")
            check(refers_to(substituted(database, subs), resources, kind="AWS::Glue::Database"),
                  f"{map_name}: QueryExecutionContext.Database is not the stack's AWS::Glue::Database")
            retried = {e for r in queries[0].get("Retry") or [] for e in r.get("ErrorEquals") or []}
            check("Athena.TooManyRequestsException" in retried, f"{map_name}: does not retry Athena throttling")

    # --- failures: catch-all -> send to the dead-letter queue -> Fail
    if check(len(sends) == 1, f"want one sqs:sendMessage state, found {sorted(sends)}"):
        (dead_letter, send), = sends.items()
        queue_url = (send.get("Parameters") or {}).get("QueueUrl")
        check(refers_to(substituted(queue_url, subs), resources, QUEUE), f"{dead_letter}: QueueUrl is not !Ref {QUEUE}")
        body = (send.get("Parameters") or {}).get("MessageBody") or {}
        check(body.get("input.$") == "$$.Execution.Input", f"{dead_letter}: the message lacks the execution's input")
        check(states.get(send.get("Next"), {}).get("Type") == "Fail", f"{dead_letter}: not followed by a Fail state")
        for name, state in states.items():
            if name == dead_letter or state.get("Type") not in ("Task", "Map", "Parallel"):
                continue
            check(any("States.ALL" in (c.get("ErrorEquals") or []) and c.get("Next") == dead_letter
                      for c in state.get("Catch") or []),
                  f"{name}: no Catch of States.ALL to {dead_letter}")


def check_lambda_task(name: str, state: dict) -> None:
    """A lambda:invoke task answers its function's payload and retries Lambda's service errors and throttling."""
    check(state.get("OutputPath") == "$.Payload", f"{name}: OutputPath is not $.Payload")
    retried = {e for r in state.get("Retry") or [] for e in r.get("ErrorEquals") or []}
    check(LAMBDA_SERVICE_ERRORS <= retried, f"{name}: does not retry {sorted(LAMBDA_SERVICE_ERRORS - retried)}")
    check("Lambda.TooManyRequestsException" in retried, f"{name}: does not retry Lambda.TooManyRequestsException")


def check_decode_function(resources: dict) -> None:
    """batch-transform-decode: batch-transform's binary and lake, only with QueryEngine Athena; batch-transform
    gets the parts' size."""
    decode, batch = resources.get(DECODE_FUNCTION), resources.get(FUNCTION, {})
    if not check(isinstance(decode, dict), f"no {DECODE_FUNCTION}"):
        return
    check(decode.get("Condition") == "UseAthena", f"{DECODE_FUNCTION}: Condition is not UseAthena")
    binary = lambda r: ((r.get("Metadata") or {}).get("BuildProperties") or {}).get("Binary")
    check(binary(decode) == binary(batch) == "batch-transform", f"{DECODE_FUNCTION}: not the batch-transform binary")
    env = lambda r: ((r.get("Properties") or {}).get("Environment") or {}).get("Variables") or {}
    check(env(decode).get("PINPIPE_LAKE_BUCKET") == env(batch).get("PINPIPE_LAKE_BUCKET"),
          f"{DECODE_FUNCTION}: another lake than {FUNCTION}'s")
    check(env(batch).get("CLEAN_PART_MB") == {"Ref": "CleanPartMB"}, f"{FUNCTION}: CLEAN_PART_MB is not !Ref CleanPartMB")


# --- the rest of the wiring ---------------------------------------------------------------------------------------


def statements(role: dict) -> list[dict]:
    found = []
    for policy in role.get("Properties", {}).get("Policies") or []:
        found += (policy.get("PolicyDocument") or {}).get("Statement") or []
    return found


def grants(role: dict, action: str, resource_test) -> bool:
    for st in statements(role):
        actions = st.get("Action")
        actions = actions if isinstance(actions, list) else [actions]
        targets = st.get("Resource")
        targets = targets if isinstance(targets, list) else [targets]
        if st.get("Effect") == "Allow" and action in actions and any(resource_test(t) for t in targets):
            return True
    return False


def sub_text(value) -> str:
    sub = value.get("Fn::Sub") if isinstance(value, dict) else None
    return sub if isinstance(sub, str) else ""


def check_wiring(template: dict) -> None:
    resources = template["Resources"]
    param = template.get("Parameters", {}).get("QueryEngine", {})
    check(param.get("AllowedValues") == list(ENGINES) and param.get("Default") == "Lambda",
          "QueryEngine: want AllowedValues [Lambda, Athena], Default Lambda")
    conditions = template.get("Conditions", {})
    check(conditions.get("UseLambda") == {"Fn::Equals": [{"Ref": "QueryEngine"}, "Lambda"]}, "condition UseLambda")
    check(conditions.get("UseAthena") == {"Fn::Equals": [{"Ref": "QueryEngine"}, "Athena"]}, "condition UseAthena")

    machines = {k: r for k, r in resources.items() if r["Type"] == "AWS::Serverless::StateMachine"}
    if not check(len(machines) == 1, f"want one AWS::Serverless::StateMachine, found {sorted(machines)}"):
        return
    (machine_id, machine), = machines.items()
    props = machine.get("Properties", {})
    check(machine.get("Condition") == "UseAthena", f"{machine_id}: Condition is not UseAthena")
    check(props.get("Type") == "STANDARD", f"{machine_id}: Type is not STANDARD")
    check((props.get("Tracing") or {}).get("Enabled") is True, f"{machine_id}: tracing is off")
    destinations = (props.get("Logging") or {}).get("Destinations") or [{}]
    log_group = destinations[0].get("CloudWatchLogsLogGroup", {}).get("LogGroupArn")
    check(refers_to(log_group, resources, kind="AWS::Logs::LogGroup", attribute="Arn")
          and resources[log_group["Fn::GetAtt"][0]].get("Condition") == "UseAthena",
          f"{machine_id}: does not log to a log group of its own (Condition UseAthena)")

    check_definition(machine_id, props, resources)

    # One daily schedule per engine, enabled; each named in the dead-letter queue's policy.
    def schedules(logical_id: str):
        for event in (resources[logical_id].get("Properties", {}).get("Events") or {}).values():
            if event.get("Type") == "Schedule":
                yield event.get("Properties", {})

    policy = next((r for r in resources.values() if r["Type"] == "AWS::SQS::QueuePolicy"
                   and {"Ref": QUEUE} in r["Properties"].get("Queues", [])), None)
    allowed = []
    for st in (policy or {}).get("Properties", {}).get("PolicyDocument", {}).get("Statement", []):
        arns = st.get("Condition", {}).get("ArnEquals", {}).get("aws:SourceArn", [])
        allowed += [sub_text(a) for a in (arns if isinstance(arns, list) else [arns])]
    for target in (FUNCTION, machine_id):
        for schedule in schedules(target):
            check(schedule.get("Schedule") == {"Ref": "BatchScheduleExpression"},
                  f"{target}: the daily schedule is not BatchScheduleExpression")
            check(refers_to((schedule.get("DeadLetterConfig") or {}).get("Arn"), resources, QUEUE, attribute="Arn"),
                  f"{target}: the daily rule's dead letters do not go to {QUEUE}")
            name = sub_text(schedule.get("Name"))
            check(any(a.endswith(f":rule/{name}") for a in allowed),
                  f"{target}: rule {name!r} may not send to {QUEUE} (its queue policy)")
    for engine in ENGINES:
        params = parameter_values(template, engine)
        enabled = [target for target in (FUNCTION, machine_id) if exists(resources[target], template, params)
                   for s in schedules(target) if evaluate(s.get("State", "ENABLED"), template, params) == "ENABLED"]
        want = [FUNCTION] if engine == "Lambda" else [machine_id]
        check(enabled == want, f"QueryEngine={engine}: daily schedules enabled on {enabled}, want {want}")

    # The state machine's role.
    role_ref = props.get("Role")
    if check(refers_to(role_ref, resources, kind="AWS::IAM::Role", attribute="Arn"), f"{machine_id}: Role"):
        role = resources[role_ref["Fn::GetAtt"][0]]
        check(role.get("Condition") == "UseAthena", f"{machine_id}: its role's Condition is not UseAthena")
        for function in (FUNCTION, DECODE_FUNCTION):
            check(grants(role, "lambda:InvokeFunction", lambda t: refers_to(t, resources, function, attribute="Arn")),
                  f"the state machine's role may not invoke {function}")
        name = sub_text(props.get("Name"))
        check(grants(role, "states:StartExecution", lambda t: sub_text(t).endswith(f":stateMachine:{name}")),
              "the state machine's role may not start its own child executions (the Distributed Map)")
        check(grants(role, "states:DescribeExecution", lambda t: sub_text(t).endswith(f":execution:{name}/*")),
              "the state machine's role may not describe its child executions")
        check(grants(role, "sqs:SendMessage", lambda t: refers_to(t, resources, QUEUE, attribute="Arn")),
              "the state machine's role may not send to the dead-letter queue")
        check(grants(role, "athena:StartQueryExecution", lambda t: "workgroup/${AthenaWorkGroup}" in sub_text(t)),
              "the state machine's role may not start queries in the workgroup")


def sql_tables(text: str) -> set[str]:
    """Names after FROM / JOIN in one SQL file, less its CTEs (and EXTRACT(... FROM x))."""
    text = re.sub(r"--[^\n]*", " ", text)
    text = re.sub(r"EXTRACT\s*\(\s*\w+\s+FROM", "EXTRACT(", text, flags=re.IGNORECASE)
    ctes = {m.lower() for m in re.findall(r"(?:\bWITH|,)\s*(\w+)\s+AS\s*\(", text, flags=re.IGNORECASE)}
    named = {m.lower() for m in re.findall(r"\b(?:FROM|JOIN)\s+([A-Za-z_]\w*)", text, flags=re.IGNORECASE)}
    return named - ctes


def check_catalog(template: dict, sql_dir: Path) -> None:
    resources = template["Resources"]
    tables = {}
    for r in resources.values():
        if r["Type"] == "AWS::Glue::Table" and r["Properties"].get("DatabaseName") == {"Ref": "LakeDatabase"}:
            tables[r["Properties"]["TableInput"]["Name"]] = r["Properties"]["TableInput"]
    files = sorted(sql_dir.glob("*.sql"))
    if not check(bool(files), f"no SQL files in {sql_dir}"):
        return
    read = set()
    for path in files:
        read |= sql_tables(path.read_text(encoding="utf-8"))
        check(f"results_{path.stem}" in tables, f"{path.name}: no Glue table results_{path.stem}")
    check(read == {"pin", "geo", "user"}, f"sql/*.sql read {sorted(read)}, want pin, geo, user")
    for name in sorted(read):
        location = sub_text((tables.get(name) or {}).get("StorageDescriptor", {}).get("Location"))
        check(location.endswith(f"/cleaned/{name}/"), f"sql/ reads {name}: no Glue table {name} on cleaned/{name}/")


# --- cfn-lint's state machine schema ------------------------------------------------------------------------------

SAMPLE_SUBSTITUTIONS = {
    "Partition": "aws",
    "BatchFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:pinpipe-batch-transform",
    "DecodeFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:pinpipe-batch-transform-decode",
    "AthenaWorkGroup": "pinpipe-lake",
    "CatalogDatabase": "pinpipe",
    "DeadLetterQueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/pinpipe-BatchDeadLetterQueue",
}


def check_schema(template: dict) -> None:
    """cfn-lint's E3601 on the definition as deployed (substitutions filled in with sample values)."""
    try:
        from cfnlint.api import ManualArgs, lint
    except ImportError:
        fail("cfn-lint is not importable: run with the sam venv's python")
        return
    for logical_id, r in template["Resources"].items():
        if r["Type"] != "AWS::Serverless::StateMachine":
            continue
        text = json.dumps(r["Properties"]["Definition"])
        for name in r["Properties"].get("DefinitionSubstitutions") or {}:
            if name not in SAMPLE_SUBSTITUTIONS:
                fail(f"{logical_id}: no sample value for substitution {name} (SAMPLE_SUBSTITUTIONS)")
                continue
            text = text.replace("${" + name + "}", SAMPLE_SUBSTITUTIONS[name])
        mini = {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Resources": {logical_id: {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
                "Definition": json.loads(text), "RoleArn": "arn:aws:iam::123456789012:role/sfn"}}},
        }
        for match in lint(json.dumps(mini), config=ManualArgs(regions=["us-east-1"])):
            fail(f"{logical_id} Definition (cfn-lint): {match.rule.id} {match.message}")


def check_transform(template_text: str) -> None:
    """The SAM transform, as `sam deploy` will run it (CodeUri is a local folder here; an S3 URI stands in)."""
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    try:
        from samtranslator.public.exceptions import InvalidDocumentException
        from samtranslator.translator.transform import transform
        from samtranslator.yaml_helper import yaml_parse
    except ImportError:
        fail("samtranslator is not importable: run with the sam venv's python")
        return

    class NoManagedPolicies:
        def load(self):
            return {}

    sam = yaml_parse(template_text)
    sam["Globals"]["Function"]["CodeUri"] = "s3://bucket/code.zip"
    try:
        out = transform(copy.deepcopy(sam), {}, NoManagedPolicies())
    except InvalidDocumentException as e:
        for cause in e.causes:
            fail(f"SAM transform: {cause.message}")
        return
    resources = out["Resources"]
    machines = [k for k, r in sam["Resources"].items() if r["Type"] == "AWS::Serverless::StateMachine"]
    for machine_id in machines:
        made = [k for k in resources if k.startswith(machine_id) and k != machine_id]
        check(bool(made), f"SAM transform: {machine_id} made no event resources")
        for k in made:
            check(resources[k].get("Condition") == "UseAthena", f"SAM transform: {k} lacks Condition UseAthena")


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "infra" / "template.yaml"
    template = load(path)
    check_transform(path.read_text(encoding="utf-8"))
    check_wiring(template)
    check_catalog(template, REPO / "sql")
    check_schema(template)
    for message in errors:
        print(f"  {message}", file=sys.stderr)
    if errors:
        print(f"state machine and QueryEngine checks: {len(errors)} failure(s)", file=sys.stderr)
        return 1
    print("state machine and QueryEngine checks: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
