"""A DaskRunner that runs mmcot's graph correctly.

Beam 2.77's ``DaskRunner`` (checked by reading ``apache_beam/runners/dask``) has four gaps
that break any pipeline with side outputs, side inputs or several sinks, and a fifth that puts
a whole job on one worker:

1. a multi-output ParDo puts every output, main and tagged, into one bag, so each consumer
   receives the elements of all outputs;
2. elements emitted in ``finish_bundle`` are dropped (results are collected before it runs);
3. only the bag of the last visited transform is computed, so other sinks never run (and
   ``dask.optimize`` of several sinks apart would run the work they share once per sink);
4. a side input is a bag that each task computes itself, inside the worker (``list(bag)`` in
   ``DaskBagWindowedIterator``): the side input's whole upstream graph is pickled again from the
   worker, with DoFns a task there has already set up (an executor's ``SimpleQueue`` cannot be
   pickled: ``Could not serialize object of type _HLGExprSequence``), and run again per task;
5. a bag keeps the partition count of the ``Create`` it comes from (a few file names or chunk
   starts: one partition), ``Reshuffle`` is a no-op and ``Bag.groupby``'s task shuffle keeps its
   input's partition count, so every element downstream lands in that one partition: one task
   holds the whole data set at every step (dedup at 3×10^4 problems: 2.3 GB in one worker).

This subclass keeps Beam's translations for Create and Flatten and fixes the five:
ParDo results keep their tag and are collected after ``finish_bundle``, each consumer selects
its tag, every leaf transform is computed, each side input is one Dask dependency of the
tasks that read it, computed once by the scheduler and handed to them as a list, and
``Reshuffle`` and the input of every ``GroupByKey`` are spread over ``--dask_npartitions``
partitions (default: :data:`PARTITIONS_PER_THREAD` per worker thread of the cluster). The graph is
translated with Dask's shuffle method set to ``tasks`` (:data:`TRANSLATE_CONFIG`), which is what ``Bag.groupby``
uses with a distributed client anyway: left unset, Dask asks ``dask.dataframe`` whether pyarrow is there to pick
between ``p2p`` and ``tasks``, and that import (dask.dataframe, dask.array, SciPy's sparse arrays) cost the
launcher 26 MB for nothing (issue 29). It lives in ``pipelines/`` because it is runner-specific; the transforms
themselves know nothing of it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from apache_beam import DoFn, ParDo, TaggedOutput, pvalue
from apache_beam.pipeline import PipelineVisitor
from apache_beam.runners.common import DoFnContext, DoFnInvoker, DoFnSignature, Receiver, _OutputHandler
from apache_beam.runners.dask import transform_evaluator as te
from apache_beam.runners.dask.dask_runner import DaskOptions, DaskRunner, DaskRunnerResult
from apache_beam.runners.dask.overrides import _GroupByKeyOnly, _Reshuffle, dask_overrides
from apache_beam.transforms.sideinputs import SideInputMap

PARTITIONS_PER_THREAD = 4
#: Dask settings the graph is translated under: the shuffle ``Bag.groupby`` picks for a distributed client, named.
TRANSLATE_CONFIG = {"dataframe.shuffle.method": "tasks"}


class _TagReceiver(Receiver):
    """Appends a ParDo's output to a shared list, tagged unless it is the main output."""

    def __init__(self, tag, values):
        self.tag = tag
        self.values = values

    def receive(self, windowed_value):
        self.values.append(windowed_value.value if self.tag is None else TaggedOutput(self.tag, windowed_value.value))


class _Receivers(dict):
    """One receiver per output tag, all appending to ``values``."""

    def __init__(self):
        super().__init__()
        self.values = []

    def __missing__(self, tag):
        self[tag] = _TagReceiver(tag, self.values)
        return self[tag]


@dataclass(frozen=True)
class _SideView:
    """How a ParDo reads one side input (its view class and options); the values come as a task argument."""

    view_class: type
    view_options: dict
    window_fn: object

    def side_input_map(self, values: list) -> SideInputMap:
        return SideInputMap(self.view_class, self.view_options,
                            [te.get_windowed_value(value, self.window_fn) for value in values])


def _run_bundle(items, transform, window_fn, views, *side_values):
    """Run one Dask partition through the DoFn, finish_bundle included; outputs keep their tags.

    ``side_values`` holds each side input's elements, in the order of ``views``."""
    side_inputs = [view.side_input_map(values) for view, values in zip(views, side_values)] or None
    receivers = _Receivers()
    handler = _OutputHandler(
        window_fn=window_fn,
        main_receivers=receivers[None],
        tagged_receivers=receivers,
        per_element_output_counter=None,
        output_batch_converter=None,
        process_yields_batches=False,
        process_batch_yields_elements=False,
    )
    args, kwargs = transform.raw_side_inputs
    invoker = DoFnInvoker.create_invoker(
        DoFnSignature(transform.fn),
        handler,
        context=DoFnContext(transform.label, state=None),
        side_inputs=side_inputs,
        input_args=list(args),
        input_kwargs=kwargs,
        user_state_context=None,
        bundle_finalizer_param=DoFn.BundleFinalizerParam(),
    )
    invoker.invoke_setup()
    invoker.invoke_start_bundle()
    for item in items:
        invoker.invoke_process(item)
    invoker.invoke_finish_bundle()
    invoker.invoke_teardown()
    return receivers.values


def _whole(bag):
    """One Dask value holding every element of ``bag`` (its partitions joined into one list): a dependency the
    scheduler computes once.

    ``repartition(1)`` keeps the join a layer of the bag's own graph; wrapping the partitions in ``dask.delayed``
    converted the whole upstream graph anew for every side input (90 MB more in the launcher for the sample
    pipeline, whose combiners each read a side input).
    """
    return bag.repartition(1).to_delayed(optimize_graph=False)[0]


class _ParDo(te.DaskBagOp):
    """A ParDo over a bag: one bundle per partition; ``side_inputs`` are (view, bag) pairs."""

    def apply(self, input_bag, side_inputs=None):
        main_input = next(iter(self.applied.main_inputs.values()))
        window_fn = main_input.windowing.windowfn if hasattr(main_input, "windowing") else None
        views = [view for view, _ in side_inputs or ()]
        values = [_whole(bag) for _, bag in side_inputs or ()]
        return input_bag.map(te.get_windowed_value, window_fn).map_partitions(
            _run_bundle, self.transform, window_fn, views, *values
        )


@dataclass
class _Spread(te.DaskBagOp):
    """Reshuffle: the elements spread over ``partitions`` partitions (each split evenly, or neighbours joined)."""

    partitions: int = field(default=1, kw_only=True)

    def apply(self, input_bag, side_inputs=None):
        return input_bag.repartition(self.partitions)


@dataclass
class _GroupByKey(te.GroupByKey):
    """Beam's GroupByKey translation over an input spread first: the task shuffle keeps its input's partition count."""

    partitions: int = field(default=1, kw_only=True)

    def apply(self, input_bag, side_inputs=None):
        return super().apply(input_bag.repartition(self.partitions), side_inputs)


SPREAD = {_Reshuffle: _Spread, _GroupByKeyOnly: _GroupByKey}


def _select(bag, tag):
    """The elements of one output of a ParDo bag (the main output has tag None)."""

    def pick(partition):
        out = []
        for item in partition:
            if isinstance(item, TaggedOutput):
                if item.tag == tag:
                    out.append(item.value)
            elif tag is None:
                out.append(item)
        return out

    return bag.map_partitions(pick)


class _Visitor(PipelineVisitor):
    """Translates each leaf transform into a bag, routing tagged outputs to their consumers."""

    def __init__(self, bag_kwargs, partitions: int):
        self.bag_kwargs = bag_kwargs
        self.partitions = partitions
        self.bags = {}
        self.ops = {}
        self.consumed = set()

    def _input_bag(self, pcoll):
        self.consumed.add(pcoll.producer)
        bag = self.bags[pcoll.producer]
        return _select(bag, pcoll.tag) if isinstance(self.ops.get(pcoll.producer), _ParDo) else bag

    def visit_transform(self, node):
        kind = type(node.transform)
        if kind in SPREAD:
            op = SPREAD[kind](node, bag_kwargs=self.bag_kwargs, partitions=self.partitions)
        else:
            op = (_ParDo if kind is ParDo else te.TRANSLATIONS.get(kind, te.NoOp))(node, bag_kwargs=self.bag_kwargs)
        inputs = [self._input_bag(pc) for pc in node.inputs if not isinstance(pc, pvalue.PBegin)]
        if isinstance(op, te.Flatten):
            input_bag = inputs
        else:
            input_bag = inputs[0] if inputs else None
        side_inputs = [(_SideView(type(si), si._view_options(), si.pvalue.windowing.windowfn), self._input_bag(si.pvalue))
                       for si in node.side_inputs]
        self.ops[node] = op
        self.bags[node] = op.apply(input_bag=input_bag, side_inputs=side_inputs)

    def leaves(self):
        """Bags of the transforms nobody consumes: the sinks."""
        return [bag for node, bag in self.bags.items() if node not in self.consumed]


class _ClosingResult(DaskRunnerResult):
    """Closes the Dask client once the job is done, so a local cluster can shut down quietly."""

    def wait_until_finish(self, duration=None):
        try:
            return super().wait_until_finish(duration)
        finally:
            self.client.close()


def shuffle_partitions(bag_kwargs: dict, client) -> int:
    """Partitions a Reshuffle or GroupByKey spreads to: ``--dask_npartitions``, else
    :data:`PARTITIONS_PER_THREAD` per worker thread (as if one worker of one thread when none has joined yet)."""
    threads = sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values())
    return bag_kwargs.get("npartitions") or PARTITIONS_PER_THREAD * max(threads, 1)


class FixedDaskRunner(DaskRunner):
    """DaskRunner with tagged outputs, finish_bundle outputs, every sink computed and shuffles spread over the cluster."""

    def run_pipeline(self, pipeline, options):
        import dask
        import dask.distributed as ddist

        dask_options = options.view_as(DaskOptions).get_all_options(drop_default=True, current_only=True)
        bag_kwargs = DaskOptions._extract_bag_kwargs(dask_options)
        client = ddist.Client(**dask_options)
        pipeline.replace_all(dask_overrides())
        visitor = _Visitor(bag_kwargs, shuffle_partitions(bag_kwargs, client))
        with dask.config.set(TRANSLATE_CONFIG):
            pipeline.visit(visitor)
        futures = client.compute(visitor.leaves())  # optimized together: work shared by sinks runs once
        return _ClosingResult(client, futures)
