"""The report's words in Brazilian Portuguese: the one table of strings (results/i18n.py).

Key: the English text exactly as the code passes it to `t`/`later`; value: its pt-BR, with the
same {fields}. The course's vocabulary (README.pt-BR.md): vazão, latência, atraso da fila,
rodada, repetições, estágio, réplica, núcleos, gerador de carga, caixa de entrada. Stage names,
request names, p50/p95/p99, SLO, CSV, Locust, wrk stay as they are. tests/test_i18n.py checks
that every key in the code has an entry here, with the same fields. The table is split in three
files only to keep each short: this one (the page, caveats, method), strings_pt_charts.py
(charts, headline columns, expected effects, intervals) and strings_pt_scaling.py (the scaling
chart and the paragraphs under it); `PT` is the three together.
"""

from benchmarks.results.strings_pt_charts import CHARTS
from benchmarks.results.strings_pt_scaling import SCALING

# fmt: off
PAGE = {
    # ---------------------------------------------------------------- page: headings, columns
    "Scaling lab — run {run_id}": "Laboratório de escalabilidade — rodada {run_id}",
    "Scaling lab: seven architecture stages, measured":
        "Laboratório de escalabilidade: sete estágios de arquitetura, medidos",
    "Run <b>{run_id}</b>": "Rodada <b>{run_id}</b>",
    "Stages measured: {stages}": "Estágios medidos: {stages}",
    "Headline": "Tabela principal",
    "stage": "estágio",
    "key": "principal",
    "key endpoint": "endpoint principal",
    "repeats {spread}: they differ too much": "repetições {spread}: diferem demais",
    "95 % confidence interval": "intervalo de confiança de 95 %",
    "Median over repeats, under it its 95 % confidence interval (bootstrap over repeats and five "
    "time slices of each window; capacity at SLO: binomial per ladder step); highlighted: what the "
    "stage is about; ⚠ repeats differ (max − min) by more than {wide} of the median (hover for "
    "them); {dash} not measured. Key: the endpoint the stage is about (alone: one request at a "
    "time, before the load); mail lag: review committed → its mail in the inbox; report e2e: "
    "report requested → CSV downloaded; downloads ok: mailed links that gave the right CSV; "
    "capacity at SLO: the highest offered rate of the ladder with p99 under the SLO and failures "
    "under 1 % (0: not even the lowest; surely 0: a request slower than the SLO alone is over "
    "1 % of the arrivals, so no rate can hold).":
        "Mediana das repetições e, abaixo dela, seu intervalo de confiança de 95 % (bootstrap "
        "sobre as repetições e cinco fatias de tempo de cada janela; capacidade no SLO: binomial "
        "por degrau da escada); em destaque, o que o estágio pretende mudar; ⚠ as repetições "
        "diferem (máx − mín) em mais de {wide} da mediana (passe o mouse para vê-las); {dash} não "
        "medido. Principal: o endpoint que é o assunto do estágio (sozinho: uma requisição por "
        "vez, antes da carga); atraso do email: avaliação gravada → seu email na caixa de entrada; "
        "relatório ponta a ponta: relatório pedido → CSV baixado; downloads certos: links "
        "enviados por email que deram o CSV certo; capacidade no SLO: a maior taxa oferecida da "
        "escada com p99 abaixo do SLO e menos de 1 % de falhas (0: nem a mais baixa; com certeza "
        "0: uma requisição mais lenta que o SLO sozinha é mais de 1 % das chegadas, então "
        "nenhuma taxa aguenta).",
    "Expected effects": "Efeitos esperados",
    "PASS": "PASSOU",
    "FAIL": "FALHOU",
    "INCONCLUSIVE": "INCONCLUSIVO",
    "SKIP": "PULADO",
    "N/A": "NÃO SE APLICA",
    "Compared with the course project": "Comparado com o projeto do curso",
    "figure": "número",
    "course (published)": "curso (publicado)",
    "this run (median)": "esta rodada (mediana)",
    "The course's figures come from a PHP/Laravel stack on other hardware: compare the direction "
    "and size of each change, not absolute values.":
        "Os números do curso vêm de uma pilha PHP/Laravel em outro hardware: compare a direção e "
        "o tamanho de cada mudança, não os valores absolutos.",
    "Work counted in Redis": "Trabalho contado no Redis",
    "lab:counter:* keys, end minus start of the measured window: e.g. how often the top-10 was "
    "really computed rather than served from the cache.":
        "Chaves lab:counter:*, fim menos início da janela medida: por exemplo, quantas vezes o "
        "top-10 foi de fato calculado em vez de servido pelo cache.",
    "Each endpoint alone": "Cada endpoint sozinho",
    "p50 of {n} requests an endpoint, sent one at a time before the load (ms): the endpoint's "
    "own cost. Under the closed-loop load every request also queues behind the others (with 10 "
    "users, latency ≈ 10 / throughput), which is why the figures under load are higher.":
        "p50 de {n} requisições por endpoint, enviadas uma por vez antes da carga (ms): o custo "
        "do próprio endpoint. Sob a carga em malha fechada, cada requisição também espera na fila "
        "atrás das outras (com 10 usuários, latência ≈ 10 / vazão), por isso os números sob carga "
        "são maiores.",
    "Load generator cross-check": "Conferência do gerador de carga",
    "this run predates the cross-check": "esta rodada é anterior à conferência",
    "Skipped: {why}.": "Pulada: {why}.",
    "{endpoint} on the {stage} stage, {connections} connections, {seconds} s each: <b>wrk {wrk} "
    "req/s</b>, <b>Locust {locust} req/s</b> (wrk/Locust = {ratio}; Locust used {cores} core). "
    "Where wrk gets more from the same endpoint, the stages' cheapest requests were partly "
    "limited by the load generator, not by the app.":
        "{endpoint} no estágio {stage}, {connections} conexões, {seconds} s cada: <b>wrk {wrk} "
        "req/s</b>, <b>Locust {locust} req/s</b> (wrk/Locust = {ratio}; o Locust usou {cores} "
        "núcleo). Onde o wrk tira mais do mesmo endpoint, as requisições mais baratas dos "
        "estágios foram em parte limitadas pelo gerador de carga, não pela aplicação.",
    "{stage} ({rate} % failed)": "{stage} ({rate} % falharam)",
    "Latencies include failed requests, often fast error answers such as a 401: {stages}. ":
        "As latências incluem requisições que falharam, muitas vezes respostas de erro rápidas "
        "como um 401: {stages}. ",
    "Where the time goes": "Onde o tempo é gasto",
    "Where the time goes: {endpoint}": "Onde o tempo é gasto: {endpoint}",
    "Each response's <code>Server-Timing</code> header says how long the app spent in each "
    "component; the bars stack the mean over every measured request of that name (a request "
    "that skipped a component counts 0 for it), pooled over repeats. They add up to the time "
    "<i>in the app</i>: the latency Locust sees also counts waiting for a free worker and the "
    "network.":
        "O cabeçalho <code>Server-Timing</code> de cada resposta diz quanto tempo a aplicação "
        "passou em cada componente; as barras empilham a média de todas as requisições medidas "
        "com esse nome (uma requisição que não passou por um componente conta 0 para ele), "
        "juntando as repetições. Elas somam o tempo <i>dentro da aplicação</i>: a latência que o "
        "Locust vê também conta a espera por um worker livre e a rede.",
    "Look for the red smtp part: the mail provider's delay (and more under load) inside the "
    "request in legacy, gone from it in async-mail, where an enqueue (queue) takes its place. On "
    "the right, the time from the review's commit to its mail in the inbox: in legacy it passes "
    "inside the request (the smtp part), from async-mail on after the answer, as queue lag: the "
    "work did not vanish, it left the request.":
        "Procure a parte vermelha, smtp: o atraso do provedor de email (e mais, sob carga) "
        "dentro da requisição no legacy, fora dela no async-mail, onde colocar na fila (queue) "
        "toma o seu lugar. À direita, o tempo da avaliação gravada até o email chegar na caixa de "
        "entrada: no legacy ele passa dentro da requisição (a parte smtp), do async-mail em "
        "diante depois da resposta, como atraso da fila: o trabalho não sumiu, saiu da "
        "requisição.",
    "Look for the blue db part turning into a thin green cache part in the cache stage: most "
    "requests are served from the cache, so the mean database time left is that of the few "
    "misses.":
        "Procure a parte azul, db, virando uma parte verde fina, cache, no estágio cache: a "
        "maioria das requisições é servida pelo cache, então o tempo médio de banco que sobra é o "
        "das poucas ausências no cache.",
    "Look for how little the report request does itself: it records the job and enqueues it "
    "(queue); building and storing the CSV happen in the worker, after the answer (their time is "
    "in the report's end-to-end figures, not here).":
        "Repare como a requisição do relatório faz pouco ela mesma: registra o trabalho e o "
        "coloca na fila (queue); montar e armazenar o CSV acontece no worker, depois da resposta "
        "(esse tempo está nos números de ponta a ponta do relatório, não aqui).",
    "Look for the purple hash part: the password check (a deliberately slow key derivation) "
    "dominates login in every stage; no architecture change makes it cheaper. Logins are set-up, "
    "before the window: with CPU budgets they run with the boxes open, so their times are those "
    "of a whole core, not a quarter.":
        "Procure a parte roxa, hash: a verificação da senha (uma derivação de chave lenta de "
        "propósito) domina o login em todos os estágios; nenhuma mudança de arquitetura a "
        "barateia. Os logins são preparação, antes da janela: com orçamentos de CPU eles rodam "
        "com as caixas abertas, então seus tempos são os de um núcleo inteiro, não de um quarto.",
    "Charts": "Gráficos",
    "Latency: {endpoint}": "Latência: {endpoint}",
    "p50 (solid) and p95 (light) per stage; bars show the median over repeats, whiskers the "
    "min–max. ":
        "p50 (sólido) e p95 (claro) por estágio; as barras mostram a mediana das repetições, os "
        "traços o mínimo e o máximo. ",
    "Environment and method": "Ambiente e método",
    "Built by <code>python -m benchmarks.results.report</code> from <code>{path}</code>.":
        "Gerado por <code>python -m benchmarks.results.report</code> a partir de "
        "<code>{path}</code>.",
    # ---------------------------------------------------------------- caveats (summary, noise)
    "Quick run: short and small, the numbers only show the direction of effects.":
        "Rodada rápida: curta e pequena, os números só mostram a direção dos efeitos.",
    "The working tree had uncommitted changes when this run was measured.":
        "A árvore de trabalho tinha mudanças não commitadas quando esta rodada foi medida.",
    "The machine was already busy when the run started (load average {load} on {cpus} CPUs): "
    "other work may have taken CPU from the stages.":
        "A máquina já estava ocupada quando a rodada começou (load average {load} em {cpus} "
        "CPUs): outro trabalho pode ter tirado CPU dos estágios.",
    "The run was interrupted: some stages or repeats may be missing.":
        "A rodada foi interrompida: podem faltar estágios ou repetições.",
    "CPU budgets were asked for but NOT enforced on this machine ({why}): every process shared "
    "the same cores, so a replica added no capacity of its own.":
        "Orçamentos de CPU foram pedidos mas NÃO impostos nesta máquina ({why}): todos os "
        "processos dividiram os mesmos núcleos, então uma réplica não acrescentou capacidade "
        "própria.",
    "no mechanism": "nenhum mecanismo",
    "r{k} verification failed: {check}": "r{k}: a verificação falhou: {check}",
    "r{k} was not measured": "r{k} não foi medida",
    "scaling {n} replicas": "escalabilidade com {n} réplicas",
    "The bench could not measure: {what}.": "O bench não conseguiu medir: {what}.",
    "{stage}: only {share} % of the accepted reviews' mails arrived (worst repeat): mails were "
    "lost or still queued.":
        "{stage}: só {share} % dos emails das avaliações aceitas chegaram (pior repetição): "
        "emails se perderam ou ainda estavam na fila.",
    "Locust used more than {limit} core in {where}: there the load generator, not the app, may "
    "be what limits throughput.":
        "O Locust usou mais de {limit} núcleo em {where}: ali o gerador de carga, e não a "
        "aplicação, pode ser o que limita a vazão.",
    "Locust's CPU budget throttled it in {share} % of its periods or more in {where} (cores "
    "used): there the load generator, not the app, may be what limits throughput.":
        "A cota de CPU do Locust o estrangulou em {share} % dos seus períodos ou mais em {where} "
        "(núcleos usados): ali o gerador de carga, e não a aplicação, pode ser o que limita a "
        "vazão.",
    "{n} headline figures (marked ⚠) differ by more than {wide} between repeats: compare them "
    "with care, or measure more repeats.":
        "{n} números da tabela principal (marcados com ⚠) diferem mais de {wide} entre as "
        "repetições: compare-os com cuidado, ou meça mais repetições.",
    "The machine during the measured windows: {busy} % of its {n} CPUs busy, load average "
    "{loads}, CPU steal {steal} %; work other than the stage and its load generator took "
    "{other} cores of {n}. Where that share moves between repeats, so do the figures: compare "
    "them with the intervals.":
        "A máquina durante as janelas medidas: {busy} % das suas {n} CPUs ocupadas, load "
        "average {loads}, CPU steal {steal} %; trabalho fora do estágio e do seu gerador de carga "
        "tomou {other} núcleos de {n}. Onde essa fração muda entre as repetições, os números "
        "mudam junto: compare-os com os intervalos.",
    "The machine's own speed: a fixed CPU loop, timed in the bench's process at each window's "
    "start and end, took {range} ms (the more, the slower). A VM's core shared with a busy "
    "neighbour runs slower with no steal recorded; where the loop was slow, the same work took "
    "longer.":
        "A velocidade da própria máquina: um laço fixo de CPU, cronometrado no processo do bench "
        "no início e no fim de cada janela, levou {range} ms (quanto mais, mais lenta). O núcleo "
        "de uma VM dividido com um vizinho ocupado fica mais lento sem steal registrado; onde o "
        "laço foi lento, o mesmo trabalho levou mais tempo.",
    "The app's boxes were full in every repeat (at their CPU budget), yet the CPU they spent per "
    "request moved between repeats: {where}. With the CPU fixed, that is what moved the "
    "throughput: the same mix, dealt the same way, cost more or less CPU per request (CPU steal "
    "and the machine's other work, above, do not account for it).":
        "As caixas da aplicação estavam cheias em todas as repetições (no seu orçamento de CPU), "
        "mas a CPU que gastaram por requisição mudou entre as repetições: {where}. Com a CPU "
        "fixa, foi isso que mudou a vazão: a mesma mistura, distribuída do mesmo jeito, custou "
        "mais ou menos CPU por requisição (o steal de CPU e o outro trabalho da máquina, acima, "
        "não explicam isso).",
    "{stage} {lo}–{hi} ms": "{stage} {lo}–{hi} ms",
    "The load generator (Locust) used {locust} cores of the same machine; the mail/report worker "
    "{worker} cores beside the app's {app} (SQLite checkpoints are not recorded separately: "
    "they are inside the app's and worker's CPU).":
        "O gerador de carga (Locust) usou {locust} núcleos da mesma máquina; o worker de "
        "emails/relatórios, {worker} núcleos, ao lado dos {app} da aplicação (os checkpoints do "
        "SQLite não são registrados à parte: estão dentro da CPU da aplicação e do worker).",
    "{stage} at {rates} req/s": "{stage} em {rates} req/s",
    "The ladder's generator fell behind its schedule ({where}): those points offered less than "
    "their rate (hollow in the chart) and stop the capacity climb.":
        "O gerador da escada se atrasou em relação ao horário ({where}): esses pontos ofereceram "
        "menos do que a sua taxa (vazados no gráfico) e param a subida da capacidade.",
    "Over the {n} windows whose app boxes were full, a window's throughput (against its stage's "
    "median) and the loop's time correlate at r = {r}.":
        "Nas {n} janelas em que as caixas do app estavam cheias, a vazão de cada janela (contra "
        "a mediana do seu estágio) e o tempo do laço se correlacionam com r = {r}.",
    "{stage} {label}: the {k} slowest of {n} requests":
        "{stage} {label}: as {k} mais lentas de {n} requisições",
    "Tail percentiles resting on a handful of requests per repeat ({where}): one slow request "
    "(a cache recomputation, a throttled period) moves such a figure; longer windows give it "
    "more requests.":
        "Percentis de cauda apoiados em poucas requisições por repetição ({where}): uma só "
        "requisição lenta (um recálculo do cache, um período estrangulado) move esse número; "
        "janelas mais longas lhe dão mais requisições.",
    "{stage} {a} → {b} ms": "{stage} {a} → {b} ms",
    "Mail queues that kept growing through the window (review mails' lag in its first third "
    "→ its last, medians over repeats: {where}): the worker sent mails slower than reviews "
    "came in, so the lag says how long the window ran and from what backlog it began more "
    "than how fast the stage is, and it spreads between repeats.":
        "Filas de e-mail que não pararam de crescer durante a janela (atraso dos e-mails de "
        "avaliação no primeiro terço → no último, medianas das repetições: {where}): o worker "
        "enviou e-mails mais devagar do que as avaliações chegavam, então o atraso diz mais "
        "quanto tempo a janela durou e de que fila ela partiu do que a rapidez do estágio, e "
        "varia entre repetições.",
    # noise_sources.py: the ⚠ figures sorted by their measured source
    "Where the {n} ⚠ figures' spread comes from, as this run measured it: {parts}.":
        "De onde vem a variação dos {n} números com ⚠, como esta rodada a mediu: {parts}.",
    "{n} tail percentiles resting on fewer than {few} requests per repeat":
        "{n} percentis de cauda apoiados em menos de {few} requisições por repetição",
    "{n} rates counted over so few trials that one repeat's binomial 95 % interval is wider "
    "than {wide} of the rate":
        "{n} taxas contadas sobre tão poucas tentativas que o intervalo binomial de 95 % de uma "
        "repetição é mais largo que {wide} da taxa",
    "{n} waits in mail queues that kept growing (mail lags, report times)":
        "{n} esperas em filas de e-mail que só cresciam (atrasos de e-mail, tempos de relatório)",
    "{n} throughputs of app boxes full at their CPU budget, where the CPU per request moved with "
    "the machine's speed":
        "{n} vazões de caixas da app cheias no seu orçamento de CPU, onde a CPU por requisição "
        "mudou com a velocidade da máquina",
    "{n} latencies, throughputs or capacities measured at machine speeds (its fixed loop, timed "
    "around each window, each probe for a figure alone, or inside each ladder for a capacity) "
    "more than {wide} apart":
        "{n} latências, vazões ou capacidades medidas com velocidades da máquina (seu laço fixo, "
        "cronometrado em volta de cada janela, de cada sondagem para um valor sozinho ou dentro "
        "de cada escada para uma capacidade) a mais de {wide} uma da outra",
    "{n} latencies under load whose request's own time in the app (its Server-Timing "
    "components, p50) moved by more than {wide} between repeats as well: the work itself, not "
    "only the wait for a full box, changed":
        "{n} latências sob carga em que o tempo da própria requisição no app (os componentes do "
        "seu Server-Timing, p50) também mudou mais de {wide} entre as repetições: o trabalho em "
        "si, não só a espera por uma caixa cheia, mudou",
    "{n} capacities at SLO one step of the ladder apart (a capacity is one of its rates, so one "
    "step is the smallest spread it can show)":
        "{n} capacidades no SLO a um degrau da escada uma da outra (uma capacidade é uma das taxas "
        "da escada, então um degrau é a menor diferença que ela pode mostrar)",
    "{n} percentiles on an edge between two heaps of requests (in some repeat the values "
    "{points} percentile points either side of them are {edge}x apart or more, or {wide} apart "
    "with no request in {gap} of the way between), such as those that ran within a full box's "
    "quota and those that waited out its period: a small shift between the heaps moves them far":
        "{n} percentis na borda entre dois montes de requisições (em alguma repetição, os valores "
        "{points} pontos de percentil de cada lado estão a {edge}x ou mais um do outro, ou a "
        "{wide} sem requisição alguma em {gap} do caminho entre eles), como as "
        "que rodaram dentro da cota de uma caixa cheia e as que esperaram o fim do seu período: "
        "um pequeno deslocamento entre os montes os move para longe",
    "not attributed: {rest}": "sem causa atribuída: {rest}",
    "Timed every few seconds inside the windows as well, it moved by up to {swing} within a "
    "single window.":
        "Medido também a cada poucos segundos dentro das janelas, ele mudou até {swing} numa "
        "mesma janela.",
    "{stage} {label}": "{stage} {label}",
    "none left unattributed": "nenhum ficou sem causa atribuída",
    # ---------------------------------------------------------------- method, environment, summary
    "measured once": "medido uma vez",
    "this was repeated {n} times": "isso foi repetido {n} vezes",
    "Each stage was brought up fresh on the same seeded data ({scale} specialists x reviews) and "
    "loaded by one Locust scenario with {users} users for {duration} s, after a separate "
    "{warmup} s warm-up that is discarded; {times} per stage. Figures are medians over the "
    "repeats with their 95 % confidence interval in brackets (⚠ when the repeats' min–max "
    "spread exceeds {wide} of the median); latencies are exact (an HdrHistogram of every "
    "request) and throughput counts HTTP requests only. Then, on the same warm stack, an "
    "open-loop ladder offers the same rates to every stage ({ladder}), each request timed from "
    "its scheduled send: capacity at SLO is the highest rate whose p99 stays under {slo} ms with "
    "under 1 % failures.":
        "Cada estágio foi subido do zero sobre os mesmos dados semeados ({scale} especialistas x "
        "avaliações) e carregado por um só cenário do Locust com {users} usuários por {duration} "
        "s, depois de um aquecimento separado de {warmup} s que é descartado; {times} por "
        "estágio. Os números são medianas das repetições com seu intervalo de confiança de 95 % "
        "entre colchetes (⚠ quando a diferença entre o mínimo e o máximo das repetições passa "
        "de {wide} da mediana); as latências são exatas (um HdrHistogram de todas as "
        "requisições) e a vazão conta só requisições HTTP. Depois, sobre a mesma pilha já "
        "aquecida, uma escada em malha aberta oferece as mesmas taxas a todos os estágios "
        "({ladder}), cada requisição cronometrada a partir do envio marcado: a capacidade no SLO "
        "é a maior taxa cujo p99 fica abaixo de {slo} ms com menos de 1 % de falhas.",
    "not run in this run": "não executada nesta rodada",
    "{rates} req/s, {step} s each, {arrivals}": "{rates} req/s, {step} s cada, {arrivals}",
    "{cpus} CPUs · {database} · {users} users × {duration} s · repeats: {repeats}":
        "{cpus} CPUs · {database} · {users} usuários × {duration} s · repetições: {repeats}",
    " · quick run": " · rodada rápida",
    " (dirty)": " (com mudanças)",
    "run": "rodada",
    "git commit": "commit do git",
    "machine": "máquina",
    "{cpus} CPUs, {platform}": "{cpus} CPUs, {platform}",
    "load average at start": "load average no início",
    "database / Redis": "banco de dados / Redis",
    "settings": "configurações",
    "packages": "pacotes",
    "POST review latency alone (async mail)": "latência do POST review sozinho (email assíncrono)",
    "POST review latency under load (async mail)":
        "latência do POST review sob carga (email assíncrono)",
    "successful throughput (load balancer)": "vazão com sucesso (load balancer)",
    "successful throughput (load balancer, logins fixed)":
        "vazão com sucesso (load balancer, logins consertados)",
    "top-10 latency alone (cache)": "latência do top-10 sozinho (cache)",
    "top-10 latency under load (cache)": "latência do top-10 sob carga (cache)",
    "# Results of run {run_id}": "# Resultados da rodada {run_id}",
    "Median over repeats [its 95 % confidence interval: bootstrap over repeats and time slices; "
    "capacity at SLO: binomial per ladder step]; ⚠ = repeats differ (max - min) by more than "
    "{wide} of the median; {dash} = not measured.":
        "Mediana das repetições [seu intervalo de confiança de 95 %: bootstrap sobre as "
        "repetições e fatias de tempo; capacidade no SLO: binomial por degrau da escada]; ⚠ = as "
        "repetições diferem (máx - mín) em mais de {wide} da mediana; {dash} = não medido.",
    "Caveats:": "Ressalvas:",
    "compared with the course": "comparado com o curso",
}
# fmt: on

PT = PAGE | CHARTS | SCALING
