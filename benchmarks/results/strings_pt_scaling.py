"""The report's words in Brazilian Portuguese, third part: the scaling curve's chart labels and the
paragraphs under it (sigma, kappa, the contrast without budgets; see strings_pt.py, the one
table `PT` of results/i18n.py is the three files together)."""

# fmt: off
SCALING = {
    # ---------------------------------------------------------------- the scaling chart
    "successful requests per second": "requisições bem-sucedidas por segundo",
    "measured, no CPU budgets": "medido, sem orçamentos de CPU",
    "with CPU budgets (a box of its own per replica)":
        "com orçamentos de CPU (uma caixa própria por réplica)",
    "measured (CPU budgets asked, NOT enforced)":
        "medido (orçamentos de CPU pedidos, NÃO impostos)",
    "no CPU budgets (all processes share the machine)":
        "sem orçamentos de CPU (todos os processos dividem a máquina)",
    "USL fit (σ {sigma}, κ held at 0)": "USL (σ {sigma}, κ fixado em 0)",
    "USL fit, no budgets (σ {sigma}, κ {kappa})": "USL, sem orçamentos (σ {sigma}, κ {kappa})",
    "USL fit, no budgets (σ {sigma}, κ held at 0)":
        "USL, sem orçamentos (σ {sigma}, κ fixado em 0)",
    "scaling without budgets {n} replicas": "escalabilidade sem orçamentos com {n} réplicas",
    # ---------------------------------------------------------------- under the chart: sigma
    "the one SQLite file (one writer at a time: its write lock)":
        "o único arquivo SQLite (um escritor por vez: sua trava de escrita)",
    "the one {database} database": "o único banco {database}",
    "the one Redis": "o único Redis",
    "{shared} and, from 2 replicas on, the proxy every request passes through":
        "{shared} e, a partir de 2 réplicas, o proxy por onde passa toda requisição",
    "the law fitted over {samples} runs at {counts} replicas":
        "lei ajustada sobre {samples} medições com {counts} réplicas",
    ", R² {r2}": ", R² {r2}",
    "<b>Contention, σ = 0</b> ({how}): the fit finds no work waiting in line for something all "
    "replicas share ({shared}): nothing bends this curve towards a ceiling, or too little to tell "
    "from the noise.":
        "<b>Contenção, σ = 0</b> ({how}): o ajuste não encontra trabalho esperando na fila por "
        "algo que todas as réplicas dividem ({shared}): nada curva esta curva em direção a um "
        "teto, ou é pouco demais para distinguir do ruído.",
    "<b>Contention, σ = {sigma}</b> ({how}): {pct} % of the work waits in line for something all "
    "replicas share; here {shared}. Every replica added queues there too, so the curve bends away "
    "from the ideal line towards a ceiling of λ/σ = <b>{ceiling} req/s</b>, however many replicas "
    "(λ = {lam} req/s: one replica's throughput with nothing shared).":
        "<b>Contenção, σ = {sigma}</b> ({how}): {pct} % do trabalho espera na fila por algo que "
        "todas as réplicas dividem; aqui, {shared}. Cada réplica a mais também entra nessa fila, "
        "então a curva se afasta da linha ideal rumo a um teto de λ/σ = <b>{ceiling} req/s</b>, "
        "não importa quantas réplicas houver (λ = {lam} req/s: a vazão de uma réplica sem nada "
        "dividido).",
    # ---------------------------------------------------------------- under the chart: kappa
    "<b>Coherency, κ held at 0</b>: with only {k} replica counts the law has too few points for "
    "its three parameters, so κ was not measured and no peak is claimed; measure 3 or more "
    "(--scaling-replicas 1,2,3,4) to fit it.":
        "<b>Coerência, κ fixado em 0</b>: com só {k} quantidades de réplicas a lei tem pontos "
        "de menos para seus três parâmetros, então κ não foi medido e nenhum pico é afirmado; "
        "meça 3 ou mais (--scaling-replicas 1,2,3,4) para ajustá-lo.",
    "the cost of keeping replicas in agreement, paid per pair of replicas: N replicas make "
    "N(N−1)/2 pairs, so it grows faster than the replicas do. The replicas of this lab never talk "
    "to each other: their crosstalk goes through what they share, e.g. writers that find the "
    "database locked and wait or retry while the others hold it.":
        "o custo de manter as réplicas de acordo, pago por par de réplicas: N réplicas formam "
        "N(N−1)/2 pares, então ele cresce mais rápido que as réplicas. As réplicas deste "
        "laboratório nunca conversam entre si: a interferência entre elas passa pelo que dividem, "
        "por exemplo escritores que encontram o banco travado e esperam ou tentam de novo "
        "enquanto as outras o seguram.",
    "<b>Coherency, κ = 0</b>: {what} No such cost shows within {first}..{top} replicas: the curve "
    "does not turn down; no peak.":
        "<b>Coerência, κ = 0</b>: {what} Nenhum custo assim aparece entre {first} e {top} "
        "réplicas: a curva não desce; sem pico.",
    "<b>Coherency, κ = {kappa}</b>: {what}": "<b>Coerência, κ = {kappa}</b>: {what}",
    "The law peaks at <b>{peak} replicas</b> ({rps} req/s): past that, adding a replica makes the "
    "whole slower.":
        "A lei tem seu pico em <b>{peak} réplicas</b> ({rps} req/s): depois disso, acrescentar "
        "uma réplica deixa o todo mais lento.",
    "No peak within {first}..{top} replicas: the law puts it at {peak} replicas ({rps} req/s), "
    "beyond what was measured (an extrapolation).":
        "Sem pico entre {first} e {top} réplicas: a lei o coloca em {peak} réplicas ({rps} "
        "req/s), além do que foi medido (uma extrapolação).",
    "No scaling law: it needs throughput at 2 or more replica counts (3 or more to fit κ), and "
    "this curve has {n}.":
        "Sem lei de escalabilidade: ela precisa da vazão em 2 ou mais quantidades de réplicas (3 "
        "ou mais para ajustar κ), e esta curva tem {n}.",
    "The {n}-replica point is {stage}'s own run (the same closed loop, users and "
    "budgets): this run measured the scaling law's first step only; "
    "<code>--scaling {stage}</code> measures the whole curve, 1 to 4 replicas.":
        "O ponto de {n} réplicas é a própria rodada do {stage} (o mesmo ciclo fechado, usuários "
        "e orçamentos): esta rodada mediu só o primeiro passo da lei de escala; "
        "<code>--scaling {stage}</code> mede a curva inteira, de 1 a 4 réplicas.",
    "No scaling law could be fitted: {why}":
        "Nenhuma lei de escalabilidade pôde ser ajustada: {why}",
    # ---------------------------------------------------------------- under the chart: contrast
    "Without CPU budgets: the two curves share fewer than 2 replica counts ({counts}), so there is "
    "no contrast to draw.":
        "Sem orçamentos de CPU: as duas curvas têm menos de 2 quantidades de réplicas em comum "
        "({counts}), então não há contraste a mostrar.",
    "every process sharing the machine's {cores} cores":
        "todos os processos dividindo os {cores} núcleos da máquina",
    "every process sharing the machine": "todos os processos dividindo a máquina",
    "<b>Without CPU budgets</b> ({machine}), {a} → {b} replicas gave <b>{gain}x</b> ({x1} → {x2} "
    "req/s), against {gain_boxed}x with a CPU box per replica.":
        "<b>Sem orçamentos de CPU</b> ({machine}), de {a} para {b} réplicas o ganho foi de "
        "<b>{gain}x</b> ({x1} → {x2} req/s), contra {gain_boxed}x com uma caixa de CPU por "
        "réplica.",
    "<b>Above the linear line</b>: {n} replicas served {gain}x one replica's successful "
    "throughput with {n}x its CPU budget.":
        "<b>Acima da linha linear</b>: {n} réplicas serviram {gain}x a vazão bem-sucedida de uma "
        "réplica com {n}x o seu orçamento de CPU.",
    "The app's CPU per successful request fell from {one} ms at 1 replica to {many} ms "
    "at {n} (its cores over its throughput): one box holding every user's requests at "
    "once spends more on each (a likely cause, not measured here: its threads queue for "
    "the GIL while the quota throttles the box in nearly every period); spread over more "
    "boxes, each holds fewer. The law (σ and κ at least 0) cannot bend above the line, "
    "so its fit runs under these points.":
        "A CPU da aplicação por requisição bem-sucedida caiu de {one} ms com 1 réplica para "
        "{many} ms com {n} (seus núcleos divididos pela sua vazão): uma caixa que segura de uma "
        "vez as requisições de todos os usuários gasta mais em cada uma (uma causa provável, não "
        "medida aqui: suas threads esperam pelo GIL enquanto a cota estrangula a caixa em quase "
        "todo período); espalhadas por mais caixas, cada uma segura menos. A lei (σ e κ no "
        "mínimo 0) não consegue se curvar acima da linha, então o seu ajuste passa por baixo "
        "destes pontos.",
    "Unboxed, one replica already takes the CPU the machine has, so more processes on the same box "
    "add no CPU: scale-out needs more boxes, not more processes on one box.":
        "Sem caixa, uma réplica já toma a CPU que a máquina tem, então mais processos na mesma "
        "caixa não acrescentam CPU: escalar horizontalmente pede mais caixas, não mais processos "
        "numa caixa só.",
    "Here the unbudgeted curve scaled as well: the machine still had idle CPU for the added "
    "processes, so this run does not show that more processes on one box add nothing.":
        "Aqui a curva sem orçamentos escalou tão bem quanto: a máquina ainda tinha CPU ociosa "
        "para os processos a mais, então esta rodada não mostra que mais processos numa caixa "
        "não acrescentam nada.",
}
# fmt: on
