"""The report's words in Brazilian Portuguese, second half: charts, headline columns, expected
effects, intervals (see strings_pt.py; benchmarks/results/i18n.py uses the two as one table)."""

# fmt: off
CHARTS = {
    # ---------------------------------------------------------------- page: chart titles, captions
    "Throughput": "Vazão",
    "p99 against offered load (open loop)": "p99 contra a carga oferecida (malha aberta)",
    "Failures, auth failures and downloads": "Falhas, falhas de autenticação e downloads",
    "Async work: queue lag and report end to end":
        "Trabalho assíncrono: atraso da fila e relatório de ponta a ponta",
    "Over time": "Ao longo do tempo",
    "CPU per process group": "CPU por grupo de processos",
    "CPU against budget": "CPU contra o orçamento",
    "Scaling curve": "Curva de escalabilidade",
    "HTTP requests per second over the measured window (E2E entries excluded). Course project, "
    "10 connections for 10 s: 70 → 112 req/s with the load balancer.":
        "Requisições HTTP por segundo na janela medida (sem as entradas E2E). Projeto do curso, "
        "10 conexões por 10 s: 70 → 112 req/s com o load balancer.",
    "Failure rate over all HTTP requests; auth failures: 401 on a logged-in request, over every "
    "request but login (load-balanced should be > 0, token-auth 0); download success: mailed "
    "links that returned the right CSV (async-reports < 100 %, external-storage 100 %).":
        "Taxa de falhas sobre todas as requisições HTTP; falhas de autenticação: 401 numa "
        "requisição com login feito, sobre todas as requisições menos o login (load-balanced "
        "deve ficar > 0, token-auth em 0); sucesso dos downloads: links enviados por email que "
        "devolveram o CSV certo (async-reports < 100 %, external-storage 100 %).",
    "Queue lag: the time from the review's commit (or the report request) to the mail in the "
    "simulator's inbox, over mails of work created in the measured window. A lag that climbs "
    "over the window means the worker cannot keep up with the load.":
        "Atraso da fila: o tempo da avaliação gravada (ou do pedido do relatório) até o email na "
        "caixa de entrada do simulador, sobre os emails do trabalho criado na janela medida. Um "
        "atraso que sobe ao longo da janela quer dizer que o worker não dá conta da carga.",
    "Rolling p95 (Locust's ~10 s window) and requests per second, median over repeats. The p95 "
    "counts every Locust entry, the report E2E entries included.":
        "p95 móvel (a janela de ~10 s do Locust) e requisições por segundo, mediana das "
        "repetições. O p95 conta todas as entradas do Locust, inclusive as E2E do relatório.",
    "CPU cores used by each process group over the measured window (median over repeats). The "
    "dashed line is the machine: a stack near it means the box was the limit; Locust above "
    "{limit} core may be the limit itself.":
        "Núcleos de CPU usados por cada grupo de processos na janela medida (mediana das "
        "repetições). A linha tracejada é a máquina: uma pilha perto dela quer dizer que a "
        "máquina foi o limite; o Locust acima de {limit} núcleo pode ser ele mesmo o limite.",
    "With CPU budgets, each process group runs in a box of its own (a cgroup quota): the bars "
    "are the CPU it used as a share of its budget, red figures the share of scheduler periods it "
    "was throttled in. A box at 100 % and throttled was the limit.":
        "Com orçamentos de CPU, cada grupo de processos roda numa caixa própria (uma cota de "
        "cgroup): as barras são a CPU que ele usou como fração do seu orçamento, os números em "
        "vermelho a fração dos períodos do escalonador em que foi estrangulado. Uma caixa em "
        "100 % e estrangulada foi o limite.",
    "Successful throughput, p95 and CPU as the app is replicated (median over repeats, whiskers "
    "the min–max); the dashed line is perfect linear scaling from one replica, the light curve "
    "the Universal Scalability Law fitted over every repeat. Replicas on one machine share its "
    "CPUs: once they are busy (see the CPU panel), more replicas cannot add throughput. The dark "
    "dotted curve, where the run has one, is the same replicas with no CPU budgets at all.":
        "Vazão bem-sucedida, p95 e CPU conforme a aplicação é replicada (mediana das repetições, "
        "traços o mín–máx); a linha tracejada é a escalabilidade linear perfeita a partir de uma "
        "réplica, a curva clara a Lei Universal de Escalabilidade (USL) ajustada sobre todas as "
        "repetições. Réplicas numa mesma máquina dividem as CPUs dela: quando elas estão ocupadas "
        "(veja o painel de CPU), mais réplicas não aumentam a vazão. A curva escura pontilhada, "
        "quando a rodada tem uma, são as mesmas réplicas sem nenhum orçamento de CPU.",
    "Open-loop ladder: requests arrive on a schedule (Poisson) at the same offered rates for "
    "every stage, whatever the answers do, and each is timed from its scheduled send (no "
    "coordinated omission); median p99 over repeats. Where a curve crosses the dashed SLO line "
    "is the stage's capacity at SLO (headline table). Hollow markers: the generator fell behind "
    "its schedule at that rate (an arrival found its in-flight limit reached, or over 10 % of "
    "sends left 50 ms late), so the stage was offered less than the rate says.":
        "Escada em malha aberta: as requisições chegam num horário marcado (Poisson), com as "
        "mesmas taxas oferecidas a todos os estágios, faça o que fizerem as respostas, e cada "
        "uma é cronometrada a partir do envio marcado (sem omissão coordenada); mediana do p99 "
        "das repetições. Onde uma curva cruza a linha tracejada do SLO fica a capacidade no SLO "
        "do estágio (tabela principal). Marcadores vazados: o gerador se atrasou em relação ao "
        "horário nessa taxa (uma chegada encontrou o limite de requisições em andamento, ou mais "
        "de 10 % dos envios saíram 50 ms atrasados), então o estágio recebeu menos do que a taxa "
        "diz.",
    "Course project: 181 ms → 136 ms with the async mail.":
        "Projeto do curso: 181 ms → 136 ms com o email assíncrono.",
    "Course project: 5 s → 90 ms with the cache.": "Projeto do curso: 5 s → 90 ms com o cache.",
    # ---------------------------------------------------------------- charts: titles, axes, legends
    "HTTP requests per second": "requisições HTTP por segundo",
    "all answers": "todas as respostas",
    "successful": "com sucesso",
    "Throughput by stage (same users, same duration)":
        "Vazão por estágio (mesmos usuários, mesma duração)",
    "response time (ms)": "tempo de resposta (ms)",
    "response time (ms, log scale)": "tempo de resposta (ms, escala log)",
    "{endpoint}: latency by stage": "{endpoint}: latência por estágio",
    "Failed HTTP requests": "Requisições HTTP que falharam",
    "% of HTTP requests": "% das requisições HTTP",
    "Auth failures (401 on a logged-in request)":
        "Falhas de autenticação (401 numa requisição com login)",
    "% of auth'd requests": "% das requisições autenticadas",
    "Report downloads that got the right CSV": "Downloads de relatório que trouxeram o CSV certo",
    "% of downloads": "% dos downloads",
    "review → mail in inbox (ms)": "avaliação → email na caixa de entrada (ms)",
    "Review mail: commit → inbox (queue lag)":
        "Email da avaliação: gravação → caixa de entrada (atraso da fila)",
    "median lag (ms)": "atraso mediano (ms)",
    "median lag (ms, log)": "atraso mediano (ms, log)",
    "seconds into the measured window (when the review was made)":
        "segundos desde o início da janela medida (quando a avaliação foi feita)",
    "Review mail lag over the window: is the queue keeping up?":
        "Atraso do email da avaliação ao longo da janela: a fila dá conta?",
    "→ mail p50": "→ email p50",
    "→ mail p95": "→ email p95",
    "→ CSV p50": "→ CSV p50",
    "→ CSV p95": "→ CSV p95",
    "from POST /api/reports (ms)": "desde o POST /api/reports (ms)",
    "Report: request → mail → CSV downloaded (end to end)":
        "Relatório: pedido → email → CSV baixado (de ponta a ponta)",
    "p95, all requests (ms)": "p95, todas as req. (ms)",
    "p95, all requests (ms, log)": "p95, todas as req. (ms, log)",
    "Latency over the measured window (p95, rolling)":
        "Latência ao longo da janela medida (p95 móvel)",
    "seconds into the measured window": "segundos desde o início da janela medida",
    "Throughput over the measured window": "Vazão ao longo da janela medida",
    "⚠ Locust\n{cores} cores": "⚠ Locust\n{cores} núcleos",
    "machine:\n{n} cores": "máquina:\n{n} núcleos",
    "{n} cores": "{n} núcleos",
    "cores": "núcleos",
    "CPU used (cores)": "CPU usada (núcleos)",
    "CPU by process group (load generator included)":
        "CPU por grupo de processos (gerador de carga incluído)",
    "budget": "orçamento",
    "CPU used, % of the group's budget": "CPU usada, % do orçamento do grupo",
    "Each box against its CPU budget (red: % of periods throttled)":
        "Cada caixa contra seu orçamento de CPU (vermelho: % dos períodos estrangulados)",
    "the app": "a aplicação",
    "Scaling {stage}: more replicas, same load": "Escalando {stage}: mais réplicas, mesma carga",
    "p95 latency": "latência p95",
    "CPU used": "CPU usada",
    "cores (load generator included)": "núcleos (gerador incluído)",
    "measured": "medido",
    "ideal (linear)": "ideal (linear)",
    "app replicas": "réplicas da aplicação",
    "USL fit (σ {sigma}, κ {kappa})": "USL (σ {sigma}, κ {kappa})",
    "offered load (req/s, open loop)": "carga oferecida (req/s, malha aberta)",
    "p99 from scheduled send (ms, log)": "p99 desde o envio marcado (ms, log)",
    "p99 against offered load (the hockey stick)":
        "p99 contra a carga oferecida (o taco de hóquei)",
    "behind schedule": "atrasado em relação ao horário",
    "mean time in the app (ms)": "tempo médio na aplicação (ms)",
    "In the request": "Na requisição",
    "commit → inbox, p50 (ms)": "gravação → email recebido, p50 (ms)",
    "Review mail lag": "Atraso do email da avaliação",
    "share of the time in the app (%)": "fração do tempo na aplicação (%)",
    "Share": "Fração",
    " ({rate} % failed)": " ({rate} % falharam)",
    "{dash} none measured": "{dash} nada medido",
    # ---------------------------------------------------------------- headline: columns, stages
    "throughput": "vazão",
    "capacity at SLO": "capacidade no SLO",
    "key p50 alone": "p50 principal sozinho",
    "key p50": "p50 principal",
    "key p95": "p95 principal",
    "key p99": "p99 principal",
    "failures": "falhas",
    "auth failures": "falhas de autenticação",
    "mail lag p50": "atraso do email p50",
    "mail lag p95": "atraso do email p95",
    "report e2e p50": "relatório ponta a ponta p50",
    "report e2e p95": "relatório ponta a ponta p95",
    "downloads ok": "downloads certos",
    "the baseline": "o ponto de partida",
    "POST review falls by the mail latency; queue lag":
        "o POST review perde o tempo do email; atraso da fila",
    "throughput up, and logins break": "a vazão sobe, e os logins quebram",
    "auth failures back to 0": "falhas de autenticação de volta a 0",
    "top-10 latency falls ~100x": "a latência do top-10 cai ~100x",
    "report returns at once; downloads fail": "o relatório responde na hora; os downloads falham",
    "download success back to 100 %": "sucesso dos downloads de volta a 100 %",
    # ---------------------------------------------------------------- expected effects (check.py)
    "POST review p50 alone at most 1/3 of legacy's":
        "p50 do POST review sozinho no máximo 1/3 do p50 do legacy",
    "sessions on one replica's disk break logins":
        "sessões no disco de uma réplica quebram os logins",
    "JWT brings auth failures back to 0": "o JWT traz as falhas de autenticação de volta a 0",
    "top-10 p50 under load at least 50x lower than token-auth's":
        "p50 do top-10 sob carga pelo menos 50x menor que o do token-auth",
    "top-10 p50 alone (one request at a time) at least 100x lower than token-auth's":
        "p50 do top-10 sozinho (uma requisição por vez) pelo menos 100x menor que o do token-auth",
    "reports on one replica's disk make downloads fail":
        "relatórios no disco de uma réplica fazem os downloads falharem",
    "object storage brings download success back to 100 %":
        "o armazenamento de objetos traz o sucesso dos downloads de volta a 100 %",
    "the report request returns at once (p95 alone < 50 ms)":
        "a requisição do relatório responde na hora (p95 sozinha < 50 ms)",
    "capacity at SLO at least {before}'s": "capacidade no SLO pelo menos a do {before}",
    "capacity at SLO at least 2x token-auth's": "capacidade no SLO pelo menos 2x a do token-auth",
    "with budgets, two replicas serve at least 1.5x async-mail's successful throughput (the "
    "course saw 1.6x)":
        "com orçamentos, duas réplicas atendem pelo menos 1,5x a vazão com sucesso do async-mail "
        "(o curso viu 1,6x)",
    "with budgets, two replicas answer at least 1.5x async-mail's requests (about half of them "
    "failed logins)":
        "com orçamentos, duas réplicas respondem pelo menos 1,5x as requisições do async-mail "
        "(cerca de metade delas, logins que falharam)",
    "on the scaling curve with budgets, 2 replicas serve at least {ratio}x the successful "
    "throughput of 1":
        "na curva de escalabilidade com orçamentos, 2 réplicas atendem pelo menos {ratio}x a "
        "vazão com sucesso de 1",
    " ({lo}-{hi}, {n} repeats)": " ({lo}-{hi}, {n} repetições)",
    "bench failed: {what}": "o bench falhou: {what}",
    "no results": "sem resultados",
    "{stage} named in the run but not measured ({why})":
        "{stage} consta da rodada mas não foi medido ({why})",
    "a run from before budgets": "uma rodada de antes dos orçamentos",
    "not applicable: CPU budgets were not enforced in this run ({why})":
        "não se aplica: os orçamentos de CPU não foram impostos nesta rodada ({why})",
    "skipped (stage not in run: {stage})": "pulado (estágio fora da rodada: {stage})",
    "no {what} measured in {stage}": "nenhum {what} medido no {stage}",
    "{what} = {shown} {unit} in the {n} repeat(s), expected == {threshold} in every one":
        "{what} = {shown} {unit} na(s) {n} repetição(ões), esperado == {threshold} em todas",
    "{what} = {mine} vs {ref_stage}'s {ref}: ratio {ratio}, {interval}, expected {op} "
    "{threshold}":
        "{what} = {mine} contra {ref} do {ref_stage}: razão {ratio}, {interval}, esperado {op} "
        "{threshold}",
    "{what} = {mine}, {interval}, expected {op} {threshold}":
        "{what} = {mine}, {interval}, esperado {op} {threshold}",
    " (the interval straddles it)": " (o intervalo fica dos dois lados)",
    "not applicable: a run from before the offered-load ladder":
        "não se aplica: uma rodada de antes da escada de carga oferecida",
    "skipped (the run was measured with --no-ladder)":
        "pulado (a rodada foi medida com --no-ladder)",
    "no ladder (ladder.json) measured in {stage}": "nenhuma escada (ladder.json) medida no {stage}",
    "{mine}, {mine_ci} vs {times}{ref_stage}'s {ref}, {ref_ci}":
        "{mine}, {mine_ci} contra {times}{ref} do {ref_stage}, {ref_ci}",
    " (neither held even the lowest rate)": " (nenhum aguentou nem a taxa mais baixa)",
    " (both 0 at any rate: equal)": " (ambos 0 em qualquer taxa: iguais)",
    " (the intervals overlap)": " (os intervalos se sobrepõem)",
    "{what} failed in the bench (meta.json)": "{what} falhou no bench (meta.json)",
    "skipped (no scaling curve in this run: --scaling STAGE)":
        "pulado (nenhuma curva de escalabilidade nesta rodada: --scaling ESTÁGIO)",
    "the curve lacks 1 or 2 replicas (has {has})": "falta 1 ou 2 réplicas na curva (tem {has})",
    "2 replicas {two} req/s / 1 replica {one} = {ratio}x, {interval}, expected >= {least}":
        "2 réplicas {two} req/s / 1 réplica {one} = {ratio}x, {interval}, esperado >= {least}",
    "; the machine's speed loop at the windows' ends, by replicas: {found}":
        "; o laço de velocidade da máquina nas pontas das janelas, por réplicas: {found}",
    "run {run_id}: expected effects (95 % confidence intervals)":
        "rodada {run_id}: efeitos esperados (intervalos de confiança de 95 %)",
    "note: a quick run (short, small data) may be too small to show every effect":
        "nota: uma rodada rápida (curta, poucos dados) pode ser pequena demais para mostrar todos "
        "os efeitos",
    "{n} did not hold: {names}": "{n} não se confirmaram: {names}",
    "{n} not decided (inconclusive or skipped): {names}":
        "{n} não decididos (inconclusivos ou pulados): {names}",
    # ---------------------------------------------------------------- intervals (intervals.py)
    "{confidence} % CI {lo}-{hi}{u} ({how})": "IC de {confidence} % {lo}-{hi}{u} ({how})",
    "no interval (one {kind}: {lo}{u})": "sem intervalo (uma só {kind}: {lo}{u})",
    "binomial per step, {n} ladder(s)": "binomial por degrau, {n} escada(s)",
    "surely {lo}-{hi}{u} ({name} alone took {alone} ms or more and is {share} % of "
    "the arrivals: the p99 is over the SLO at every rate)":
        "com certeza {lo}-{hi}{u} ({name} sozinho levou {alone} ms ou mais e é {share} % das "
        "chegadas: o p99 passa do SLO em qualquer taxa)",
    "bootstrap over {n} {kind}": "bootstrap sobre {n} {kind}",
    "bootstrap over {k} repeats and their {n} {kind}":
        "bootstrap sobre {k} repetições e suas {n} {kind}",
    "bootstrap over {k} rounds, each drawn for both sides, and their {n} {kind}":
        "bootstrap sobre {k} rodadas, cada uma sorteada para os dois lados, e suas {n} {kind}",
    "hdr slices": "fatias do hdr",
    "hdr slice": "fatia do hdr",
    "history slices": "fatias do histórico",
    "history slice": "fatia do histórico",
    "repeats": "repetições",
    "repeat": "repetição",
    "probe requests": "requisições da sondagem",
    "probe request": "requisição da sondagem",
}
# fmt: on
