"""distilabel 1.5.3's ``OpenAILLM`` against an OpenAI-compatible server (its async client).

``OpenAILLM.generate`` runs every input as one ``agenerate`` task on its event loop, each a
``chat.completions.create`` call of the ``openai`` client (one generation a request, so the work
equals the other clients'). Sampling arguments are distilabel's own names.
"""
from __future__ import annotations

from common import Clock, arguments, load_requests, report
from distilabel.models.llms import OpenAILLM


def main() -> None:
    args = arguments(__doc__.split("\n\n")[0])
    requests = load_requests(args.requests)
    llm = OpenAILLM(model=args.model, base_url=args.base_url, api_key="unused", timeout=3600, max_retries=0)
    llm.load()
    first = requests[0]
    with Clock() as clock:
        outputs = llm.generate(inputs=[r["messages"] for r in requests], num_generations=1,
                               max_new_tokens=first["max_tokens"], temperature=first["temperature"],
                               top_p=first["top_p"])
    tokens = sum(sum(o["statistics"]["output_tokens"]) for o in outputs)
    done = sum(1 for o in outputs if o["generations"][0] is not None)
    report(len(requests), done, tokens, clock)


if __name__ == "__main__":
    main()
