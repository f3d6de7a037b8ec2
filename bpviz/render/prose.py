"""Every word of prose the notes print, by language: adding a language is adding one table.

Math is never translated; only headings and connecting sentences are. Entries are
``str.format`` templates; ``{…}`` fields are filled by the printers.
"""

from __future__ import annotations

from ..errors import UsageError

PROSE = {
    "en": {
        "title": "Backpropagation through {output}",
        "program": "Program",
        "at": "Evaluated at:",
        "figure_alt": "Computation graph of {output} with forward values and gradients",
        "figure_caption": "Blue: forward values. Vermillion: gradients of {output}. An edge's label is a local "
                          "derivative: the edge {edge} shows {partial}.",
        "figure_caption_plain": "Blue: forward values. Vermillion: gradients of {output}. An edge's label is a "
                                "local derivative.",
        "md_header": "Written by bpviz. The math is TeX between dollar signs, inline and displayed. Typora "
                     "leaves inline math off by default, and the tables then show raw TeX: turn on Preferences "
                     "→ Markdown → Syntax Support → Inline Math. Obsidian, GitHub and MathJax pages need no "
                     "setting.",
        "list_sep": ", ",
        "notation": "Notation: {bar} is the gradient of {output} with respect to a node {v}, summed over every "
                    "path from {v} to {output}; {partial} is only ever a local derivative, of a node {a} with "
                    "respect to one of its own inputs {b}, the others held fixed.",
        "notation_delta": " In a network, {delta} is the gradient at the pre-activation {z} of unit j of layer l: "
                          "the unit's error signal.",
        "legend": "Names: in the figure and in the JSON output, {pairs}.{more}",
        "legend_network": "Names: in the figure and in the JSON output, {pairs}, for each layer l ({layers}), "
                          "unit j and input i.{more}",
        "legend_is": " is {tex}",
        "legend_more": " Other names are typeset the same way.",
        "legend_example": " For example, {pairs}.",
        "figure_left_out": "The figure is left out: {reason}.",
        "no_figure": "--no-figure was given",
        "shown_above": "it is drawn just above",
        "figure_stdout": "the note went to standard output, so there is no file beside it (use --embed)",
        "figure_stdout_file": "the note went to standard output, so there is no file beside it (write "
                              "it with -o FILE to get its figure)",
        "figure_too_large": "the graph has {nodes} nodes, more than the {limit} drawn by default (add --large "
                            "to draw it anyway)",
        "forward": "Forward pass",
        "forward_intro": "Every node in topological order, computed from its inputs.",
        "node": "node",
        "definition": "definition",
        "with_numbers": "with numbers",
        "value": "value",
        "shape": "shape",
        "local": "Local derivatives",
        "local_intro": "For every edge, the derivative of a node with respect to one of its inputs, "
                       "holding the others fixed.",
        "edge": "edge",
        "derivative": "derivative",
        "symbolic": "symbolic",
        "backward": "Backward pass",
        "backward_intro": "In reverse topological order, each gradient is the sum, over the nodes "
                          "that use it, of their gradient × the local derivative of the edge between them, "
                          "starting from {seed}.",
        "gradient": "gradient",
        "softmax_ce": "Softmax followed by cross-entropy: the gradient that reaches each pre-activation "
                      "is the probability minus the target, {rule}, so the long chain through exp, "
                      "the sum and the division collapses to",
        "fanout": "{node} feeds {count} nodes, so its gradient is a sum of {count} terms.",
        "custom_ste": "{edge}: surrogate gradient (straight-through): the true derivative is 0 almost everywhere "
                      "(and undefined at the jump), so the backward pass uses {rule} in its place ({origin}).",
        "custom_rule": "{edge}: surrogate gradient: the backward pass uses {rule} in place of the true derivative "
                       "{true} ({origin}).",
        "custom_origin_rule": "@grad in the program",
        "steps_custom": "(custom ∂: the surrogate {rule} replaces the true derivative.)",
        "custom_origin_estimator": "the {name} estimator",
        "kink": "{node} sits at a kink or a jump ({at}), so its local derivative there is a convention: {convention}.",
        "convention_round": " (round halves to even)",
        "convention_tie": "a tie sends the whole gradient to the first operand, {first}",
        "convention_bound": "at a bound the gradient goes to {x}, and a bound's derivative is 1 only beyond it",
        "chain": "Chain rule",
        "chain_intro": "Each gradient is the sum, over every path from {output} down to the input, "
                       "of the product of the local derivatives along the path.",
        "one_path": "One path leads from {output} to {name}.",
        "n_paths": "{count} paths lead from {output} to {name}; the gradient is their sum.",
        "too_many_paths": "{count} paths lead from {output} to {name}, more than the {limit} this "
                          "note lists; the backward pass above sums them one node at a time, "
                          "which gives the same result:",
        "long_path": "The path from {output} to {name} has {factors} factors, more than the "
                     "{limit} this note writes out; the backward pass above multiplies them "
                     "one node at a time, which gives the same result:",
        "no_path": "{output} does not depend on {name}, so its gradient is 0.",
        "closed_form": "Closed form (sympy):",
        "closed_form_long": "Closed form (sympy): {chars} characters of LaTeX, too long to print; its value:",
        "agrees": "which agrees with the chain rule.",
        "disagrees": "which DISAGREES with the chain rule ({ours}); please report this.",
        "closed_form_skipped": "Closed forms are left out for graphs over {limit} nodes.",
        "closed_form_matrix": "Closed forms are written element by element for scalar programs; in matrix form "
                              "the backward pass below is the derivation.",
        "closed_form_too_large": "Closed forms are left out: written out in full, the expression has "
                                 "{size} terms, more than the {limit} sympy is given.",
        "closed_form_too_deep": "Closed forms are left out: the expression nests {depth} functions, more "
                                "than the {limit} sympy is given.",
        "update": "Gradient-descent update",
        "update_intro": "One step with learning rate {eta}: each parameter ({params}) moves against its "
                        "gradient.{data}",
        "update_data": " The other inputs are data and stay as they are.",
        "n_parameters": "{count} of them",
        "parameter": "parameter",
        "old": "old value",
        "new": "new value",
        "after": "After the step, {output} goes from {before} to {after}.",
        "generated": "Generated by bpviz {version}.",
        "op": "op",
        "formula": "formula",
        "input": "input",
        "const": "const",
        "rows_left_out": "{count} more left out (-o FILE.json lists every node)",
        "check_title": "gradient check",
        "check_ours": "bpviz",
        "check_sympy": "sympy diff",
        "check_fd": "finite diff",
        "check_error": "error",
        "check_kink": "not comparable at a kink",
        "check_custom": "custom ∂",
        "check_not_compared": "not compared",
        "check_verdict": "largest disagreement {worst} (tolerance {tolerance}; errors are relative to "
                         "max(1, |gradient|), a direction's to max(1, √Σ(∂·d)²)): {verdict}",
        "check_agree": "agree",
        "check_disagree": "DISAGREE",
        "check_kink_note": "at a kink (relu or abs at 0, a power's exponent at a negative base, a tie of max, a "
                           "jump of sign or floor, or within a finite difference's step of one) the gradient "
                           "is a convention; those rows are not compared",
        "check_custom_note": "custom ∂ rows (a surrogate gradient, @grad or --grad) are compared with sympy's diff "
                             "of the surrogate, never with finite differences of the true function",
        "check_sympy_skipped": "sympy: skipped, {why}",
        "check_directions_title": "directional check, seed {seed}: ∇{output}·d vs ({output}(x+hd) − {output}(x−hd))/2h",
        "check_direction": "direction",
        "check_scale": "√Σ(∂·d)²",
        "check_held": "{count} held (near a kink)",
        "check_per_input_skipped": "finite differences: {why}",
        "check_rows_left_out": "{count} more inputs left out (-o FILE.json lists every one)",
        # matrix-form notes (bpviz/render/matrix_note.py)
        "title_matrix": "Backpropagation through {output} in matrix form",
        "figure_caption_matrix": "Blue: forward values. Vermillion: gradients of {output}. Edges: what each node "
                                 "sends back to its operands.",
        "figure_caption_shapes": "Each node with its shape. Edges: what each node sends back to its operands.",
        "shapes_only": "Shapes only: no numbers were given, so this page is the dimension analysis: every "
                       "step with its shapes, and every gradient checked against the shape it must have.",
        "shapes": "Shapes",
        "shapes_intro": "Every symbol of the derivation with its shape, rows × columns. A vector of n entries "
                        "(a numpy 1-D array) is written n: it is neither a row nor a column (its numbers are "
                        "printed in a row), and added to a matrix it is added to every row.",
        "symbol": "symbol",
        "role": "what it is",
        "role_input": "input",
        "role_parameter": "parameter",
        "role_intermediate": "intermediate",
        "role_output": "output",
        "scalar": "scalar",
        "roles_unknown": "Which inputs are parameters is known from --param (with --lr) or from a network "
                         "spec; without either, every input is listed as an input.",
        "notation_matrix": "Notation: {bar} is the gradient of {output} with respect to a node {v}, summed "
                           "over every use of {v}, and has the shape of {v}; {delta} is kept for the gradient at "
                           "a pre-activation, the input of an activation function; ∂ alone is a local "
                           "derivative. {odot} multiplies entry by entry, and {ones} is a vector or matrix of "
                           "ones.",
        "forward_matrix": "Forward pass in matrix form",
        "forward_matrix_intro": "Each step of the program in matrix form, with its shapes on the right. Small "
                                "matrices are written out, exact values as fractions; larger ones as their "
                                "shape, smallest and largest entry, and norm.",
        "forward_matrix_intro_shapes": "Each step of the program in matrix form, with its shapes on the right: "
                                       "in every product the inner dimensions meet.",
        "backward_matrix": "Backward pass in matrix form",
        "backward_matrix_intro": "In reverse order, each node's gradient from the gradients of the nodes that "
                                 "use it, starting from {seed}. On the right of each line is its dimension "
                                 "check: the shapes of the factors as they are multiplied, the shape that "
                                 "gives, and {mark} when it is the node's own shape, as a gradient's must be.",
        "delta": "{node} is the pre-activation of {act}, so its gradient is the error signal the textbooks "
                 "call {delta}: {bar}.",
        "delta_spec": "{node} is a pre-activation, so its gradient is the error signal the textbooks call "
                      "{delta}: {bar}.",
        "broadcast_rows": "{name} is added to every row of {sum}, that is to every example of a batch laid out "
                          "one per row, so its gradient is a sum over the batch (over the rows) of {grad}: "
                          "{formula}.",
        "broadcast_cols": "{name} is added to every column of {sum}, that is to every example of a batch laid "
                          "out one per column, so its gradient is a sum over the batch (over the columns) of "
                          "{grad}: {formula}.",
        "broadcast_all": "{name} is a scalar added to every entry of {sum}, so its gradient is the sum of all "
                         "the entries of {grad}: {formula}.",
        "readings": "One entry at a time: where the transposes come from",
        "readings_intro": "Each matrix product read entry by entry. Differentiating one entry, then summing "
                          "over the index the operand does not have, gives the matrix form above, "
                          "transpose included.",
        "reading_intro": "The product {product}, where {a} is {ashape} and {b} is {bshape}:",
        "reading_numbers": "With the numbers, entry (1, 1):",
        "reading_fanout": "{name} is used elsewhere too: this is the part of its gradient that comes through "
                          "{product}, and the other parts add to it.",
        "identities": "The shortcut at the output layer",
        "softmax_ce_matrix": "{p} is the softmax of {z}{rows}, and {output} is its cross-entropy against "
                             "{y}{scaled}. Through the log, the product with {y} and the softmax's Jacobian, "
                             "the gradient at the logits collapses to",
        "sigmoid_bce_matrix": "{p} is the sigmoid of {z}, and {output} is its binary cross-entropy against "
                              "{y}{scaled}. Through both logs and the sigmoid's local derivative, the gradient "
                              "at {z} collapses to",
        "scaled_by": ", scaled by {coefficient}",
        "row_by_row": ", row by row",
        "identity_agrees": "which is the {bar} of the backward pass above.",
        "identity_rows_assumed": "This assumes each row of {y} sums to 1, as one-hot labels do.",
        "softmax_ce_not_rows": "{p} is the softmax of {z}{rows}, and {output} is its cross-entropy against "
                               "{y}{scaled}. The rows of {y} do not all sum to 1, so the shortcut P − Y, which "
                               "needs them to, does not apply here: the backward pass above gives the gradient.",
        "identity_why_softmax": "Why: one entry at a time, with the softmax's local derivative, and every row "
                                "of the targets summing to 1:",
        "identity_why_sigmoid": "Why: with the sigmoid's local derivative, entry by entry:",
        # a network's δ form (bpviz/render/network_note.py)
        "delta_form": "Backpropagation in $\\delta$ form",
        "delta_intro": "Path by path, the chain rule repeats the same factors over and over in a network ({name} "
                       "alone is reached along {count} paths). Textbooks (Nielsen, Mazur) instead give each unit "
                       "j of a layer l an error signal, the gradient at its pre-activation, {delta}: it is "
                       "computed once per unit, from the output layer down, and every weight's and bias's "
                       "gradient is read off it. The numbers are those of the backward pass above.",
        "delta_intro_short": "Textbooks (Nielsen, Mazur) give each unit j of a layer l an error signal, the "
                             "gradient at its pre-activation, {delta}: it is computed once per unit, from the "
                             "output layer down, and every weight's and bias's gradient is read off it. The "
                             "numbers are those of the backward pass above.",
        "delta_output_layer": "Output layer {layer}",
        "delta_loss": "The figure computes the loss through the generated nodes {nodes}; written as one "
                      "formula, it is",
        "delta_loss_direct": "The loss is",
        "delta_targets": "with the targets {targets}.",
        "delta_output_grad": "Differentiating it with respect to each output gives the gradient at the outputs:",
        "delta_output": "Each output unit's error signal is its activation's slope times that gradient:",
        "delta_output_linear": "The output layer is linear (a = z), so each unit's error signal is that gradient "
                               "itself:",
        "delta_softmax_ce": "Softmax followed by cross-entropy: through the exponentials, their sum and the "
                            "division, the gradient at each pre-activation collapses to the probability minus "
                            "the target (the targets sum to 1):",
        "delta_softmax_ce_sum": "Softmax followed by cross-entropy: through the exponentials, their sum and the "
                                "division, the gradient at each pre-activation collapses to the probability "
                                "times the sum of the targets ({total} here, not 1) minus the target:",
        "delta_sigmoid_bce": "Sigmoid followed by binary cross-entropy: the sigmoid's slope a(1 − a) cancels the "
                             "loss's denominator, so each error signal is the output minus the target:",
        "delta_softmax": "The softmax mixes the output units, so each error signal collects the gradients of "
                         "every output through its Jacobian:",
        "delta_unknown": "The gradient at each output, from the backward pass above:",
        "delta_hidden_layer": "Layer {layer}",
        "delta_hidden": "Each unit of {layer} feeds every unit of {above}, so its error signal collects theirs "
                        "through the weights that connect them, times its activation's slope:",
        "delta_hidden_linear": "Each unit of {layer} feeds every unit of {above}, and the layer is linear (a = z), "
                               "so its error signal collects theirs through the weights that connect them:",
        "delta_zero_terms": "{count} terms with a factor 0 (a weight of 0, or a unit above whose $\\delta$ is 0) are "
                            "left out of these sums: they add nothing.",
        "delta_inactive": "The slope is 0 at {units}: those units are inactive, so their $\\delta$ is 0 and nothing "
                          "passes back through them.",
        "delta_params": "Weights and biases",
        "delta_params_intro": "A weight multiplies one input of its unit, so its gradient is the unit's $\\delta$ times "
                              "that input; a bias's gradient is its unit's $\\delta$, and a bias shared by a layer "
                              "collects the $\\delta$s of all its units. The inputs of the first layer are the "
                              "network's inputs.",
        "delta_params_layer": "Layer {layer}:",
        "delta_zero_unit": "Zero error signals ({units}): every weight and bias of those units has gradient 0 "
                           "and is not listed.",
        "delta_inputs_heading": "Inputs",
        "delta_inputs": "An input feeds every unit of the first layer, so its gradient collects their error "
                        "signals through its weights:",
        "delta_checked": "sympy differentiated the whole expression of {output} on its own: its values agree "
                         "with every gradient above.",
        "delta_check_failed": "sympy's own derivative DISAGREES for {names}; please report this.",
        "steps_title": "Backpropagation of {output}, step by step",
        "steps_forward": "Forward pass",
        "steps_seed": "Seed",
        "steps_backward": "Backward pass",
        "steps_counter": "Step {n} of {total}",
        "steps_first": "First step",
        "steps_prev": "Previous",
        "steps_next": "Next",
        "steps_last": "Last step",
        "steps_play": "Play",
        "steps_pause": "Pause",
        "steps_speed": "Speed",
        "steps_slider": "Step",
        "steps_keys": "Keys: ← and → step, Home and End jump to the first and last step, Space plays and pauses.",
        "steps_do_forward": "{node} is computed from {inputs}.",
        "steps_do_seed": "The backward pass starts at the output: the gradient of {output} with respect to "
                         "itself is 1.",
        "steps_do_edge": "{head} sends its gradient back to {tail} along the edge {tail} → {head}: upstream "
                         "gradient × local derivative.",
        "steps_do_share": "{head} sends {tail} its share, {k} of {n}: {tail} feeds {n} nodes, so its gradient "
                          "is the sum of {n} shares.",
        "steps_do_last": "{head} sends {tail} the last of its {n} shares: {tail}'s gradient is complete.",
    },
    "zh": {
        "title": "{output} 的反向传播",
        "program": "程序",
        "at": "取值：",
        "figure_alt": "{output} 的计算图（前向值与梯度）",
        "figure_caption": "蓝色：前向值。橙红色：{output} 的梯度。边上标的是局部偏导数：边 {edge} 上是 {partial}。",
        "figure_caption_plain": "蓝色：前向值。橙红色：{output} 的梯度。边上标的是局部偏导数。",
        "md_header": "由 bpviz 生成。公式是写在美元符号之间的 TeX（行内公式与独立公式）。Typora 默认关闭行内公式，"
                     "此时表格里显示的是 TeX 源码：请开启 Preferences → Markdown → Syntax Support → Inline Math"
                     "（中文界面：偏好设置 → Markdown → Markdown 扩展语法 → 内联公式）。Obsidian、GitHub 和 "
                     "MathJax 页面无需设置。",
        "list_sep": "、",
        "notation": "记号：{bar} 是 {output} 对节点 {v} 的梯度，对从 {v} 到 {output} 的所有路径求和；{partial} "
                    "只表示局部偏导数，即节点 {a} 对它自己的某个输入 {b} 的偏导数（其他输入视为常数）。",
        "notation_delta": "在网络中，{delta} 是第 l 层第 j 个单元的预激活值 {z} 处的梯度，即该单元的误差信号。",
        "legend": "命名：图和 JSON 输出中的 {pairs}。{more}",
        "legend_network": "命名：图和 JSON 输出中的 {pairs}；l 为层（{layers}），j 为单元，i 为输入。{more}",
        "legend_is": " 即 {tex}",
        "legend_more": "其余名称同理。",
        "legend_example": "例如 {pairs}。",
        "figure_left_out": "未包含计算图：{reason}。",
        "no_figure": "使用了 --no-figure",
        "shown_above": "计算图在上方",
        "figure_stdout": "笔记输出到标准输出，旁边没有文件（可用 --embed）",
        "figure_stdout_file": "笔记输出到标准输出，旁边没有文件（用 -o FILE 写出即可得到图）",
        "figure_too_large": "图有 {nodes} 个节点，超过默认绘制的上限 {limit}（加 --large 仍可绘制）",
        "forward": "前向传播",
        "forward_intro": "按拓扑顺序，由每个节点的输入计算它的值。",
        "node": "节点",
        "definition": "定义",
        "with_numbers": "代入数值",
        "value": "值",
        "shape": "形状",
        "local": "局部偏导数",
        "local_intro": "每条边上，节点对其某个输入的偏导数（其他输入视为常数）。",
        "edge": "边",
        "derivative": "偏导数",
        "symbolic": "符号形式",
        "backward": "反向传播",
        "backward_intro": "按逆拓扑顺序，从 {seed} 开始，每个节点的梯度等于所有使用它的节点的"
                          "梯度 × 两者之间那条边的局部偏导数之和。",
        "gradient": "梯度",
        "softmax_ce": "softmax 之后接交叉熵：到达每个预激活值的梯度等于概率减去目标值 {rule}，"
                      "因此经过 exp、求和与除法的长链化简为",
        "fanout": "{node} 连向 {count} 个节点，因此它的梯度是 {count} 项之和。",
        "custom_ste": "{edge}：代理梯度（直通估计）：真正的导数几乎处处为 0（在跳跃点无定义），因此反向传播改用 "
                      "{rule}（{origin}）。",
        "custom_rule": "{edge}：代理梯度：反向传播用 {rule} 取代真正的导数 {true}（{origin}）。",
        "custom_origin_rule": "程序中的 @grad",
        "steps_custom": "（自定义 ∂：用代理梯度 {rule} 取代真正的导数。）",
        "custom_origin_estimator": "{name} 估计器",
        "kink": "{node} 处在折点或跳跃点（{at}），那里的局部导数是一个约定：{convention}。",
        "convention_round": "（round 取偶舍入）",
        "convention_tie": "相等时整个梯度都传给第一个操作数 {first}",
        "convention_bound": "在边界上梯度传给 {x}，边界自身的导数只在越过边界时为 1",
        "chain": "链式法则",
        "chain_intro": "每个梯度等于从 {output} 到该输入的所有路径上局部偏导数乘积之和。",
        "one_path": "从 {output} 到 {name} 只有一条路径。",
        "n_paths": "从 {output} 到 {name} 有 {count} 条路径，梯度是它们的和。",
        "too_many_paths": "从 {output} 到 {name} 有 {count} 条路径，超过本文列出的上限 {limit}；"
                          "上面的反向传播逐个节点求和，结果相同：",
        "long_path": "从 {output} 到 {name} 的路径有 {factors} 个因子，超过本文写出的上限 {limit}；"
                     "上面的反向传播逐个节点相乘，结果相同：",
        "no_path": "{output} 不依赖于 {name}，因此梯度为 0。",
        "closed_form": "解析表达式（sympy）：",
        "closed_form_long": "解析表达式（sympy）：LaTeX 长达 {chars} 个字符，不予打印；其值为：",
        "agrees": "与链式法则的结果一致。",
        "disagrees": "与链式法则的结果（{ours}）不一致，请报告此问题。",
        "closed_form_skipped": "节点数超过 {limit} 的图不给出解析表达式。",
        "closed_form_matrix": "解析表达式只对标量程序逐项给出；矩阵形式下，下面的反向传播就是推导。",
        "closed_form_too_large": "不给出解析表达式：完全展开后表达式有 {size} 项，超过交给 sympy 的上限 {limit}。",
        "closed_form_too_deep": "不给出解析表达式：表达式嵌套了 {depth} 层函数，超过交给 sympy 的上限 {limit}。",
        "update": "梯度下降更新",
        "update_intro": "取学习率 {eta}，做一步梯度下降：每个参数（{params}）沿梯度的反方向移动。{data}",
        "update_data": "其余输入是数据，保持不变。",
        "n_parameters": "共 {count} 个",
        "parameter": "参数",
        "old": "原值",
        "new": "新值",
        "after": "更新后，{output} 从 {before} 变为 {after}。",
        "generated": "由 bpviz {version} 生成。",
        "op": "运算",
        "formula": "公式",
        "input": "输入",
        "const": "常数",
        "rows_left_out": "另有 {count} 行未列出（-o FILE.json 列出所有节点）",
        "check_title": "梯度检验",
        "check_ours": "bpviz",
        "check_sympy": "sympy 求导",
        "check_fd": "有限差分",
        "check_error": "误差",
        "check_kink": "不可导点，不比较",
        "check_custom": "自定义 ∂",
        "check_not_compared": "未比较",
        "check_verdict": "最大差异 {worst}（容差 {tolerance}；误差相对于 max(1, |梯度|)，方向检验相对于 max(1, √Σ(∂·d)²)）：{verdict}",
        "check_agree": "一致",
        "check_disagree": "不一致",
        "check_kink_note": "在不可导点（relu 或 abs 在 0 处、负底数的幂对指数、max 相等、sign 或 floor 的跳跃点，"
                           "或离它们不到一个有限差分步长）梯度是约定值，这些行不参与比较",
        "check_custom_note": "自定义 ∂ 的行（代理梯度，@grad 或 --grad）与 sympy 对代理梯度的求导比较，"
                             "不与真实函数的有限差分比较",
        "check_sympy_skipped": "sympy：跳过，{why}",
        "check_directions_title": "方向检验，种子 {seed}：∇{output}·d 对比 ({output}(x+hd) − {output}(x−hd))/2h",
        "check_direction": "方向",
        "check_scale": "√Σ(∂·d)²",
        "check_held": "{count} 个保持不动（接近不可导点）",
        "check_per_input_skipped": "有限差分：{why}",
        "check_rows_left_out": "另有 {count} 个输入未列出（-o FILE.json 列出全部）",
        "title_matrix": "{output} 的反向传播（矩阵形式）",
        "figure_caption_matrix": "蓝色：前向值。橙红色：{output} 的梯度。边上：每个节点传回给其操作数的量。",
        "figure_caption_shapes": "每个节点及其形状。边上：每个节点传回给其操作数的量。",
        "shapes_only": "只给了形状：没有数值，因此本页是维度分析——每一步的形状，以及每个梯度与它应有形状的核对。",
        "shapes": "形状",
        "shapes_intro": "推导中的每个符号及其形状（行 × 列）。n 个元素的向量（numpy 的一维数组）记作 n："
                        "它既不是行向量也不是列向量（数值写成一行），与矩阵相加时加到每一行上。",
        "symbol": "符号",
        "role": "含义",
        "role_input": "输入",
        "role_parameter": "参数",
        "role_intermediate": "中间量",
        "role_output": "输出",
        "scalar": "标量",
        "roles_unknown": "哪些输入是参数，由 --param（配合 --lr）或网络规格给出；两者都没有时，所有输入都列为输入。",
        "notation_matrix": "记号：{bar} 是 {output} 对节点 {v} 的梯度，对 {v} 的所有用处求和，形状与 {v} "
                           "相同；{delta} 专指预激活值（激活函数的输入）处的梯度；单独的 ∂ 表示局部偏导数。"
                           "{odot} 表示逐元素相乘，{ones} 是全 1 的向量或矩阵。",
        "forward_matrix": "矩阵形式的前向传播",
        "forward_matrix_intro": "程序的每一步写成矩阵形式，右侧是形状。小矩阵写出全部元素（精确值写成分数）；"
                                "大矩阵只给形状、最小与最大元素和范数。",
        "forward_matrix_intro_shapes": "程序的每一步写成矩阵形式，右侧是形状：每个乘积的内侧维度都相同。",
        "backward_matrix": "矩阵形式的反向传播",
        "backward_matrix_intro": "按逆序，由使用某节点的各节点的梯度得到它的梯度，从 {seed} 开始。每行右侧是维度"
                                 "核对：各因子相乘时的形状、乘得的形状，与节点自身形状相同（梯度必须如此）时标 {mark}。",
        "delta": "{node} 是 {act} 的预激活值，因此它的梯度就是教材中称为 {delta} 的误差信号：{bar}。",
        "delta_spec": "{node} 是预激活值，因此它的梯度就是教材中称为 {delta} 的误差信号：{bar}。",
        "broadcast_rows": "{name} 被加到 {sum} 的每一行上，即按行排列的批次中的每个样本，因此它的梯度是 {grad} "
                          "在整个批次上（按行）的和：{formula}。",
        "broadcast_cols": "{name} 被加到 {sum} 的每一列上，即按列排列的批次中的每个样本，因此它的梯度是 {grad} "
                          "在整个批次上（按列）的和：{formula}。",
        "broadcast_all": "{name} 是加到 {sum} 每个元素上的标量，因此它的梯度是 {grad} 所有元素之和：{formula}。",
        "readings": "逐个元素来看：转置从何而来",
        "readings_intro": "把每个矩阵乘积逐元素展开。对一个元素求导，再对该操作数没有的下标求和，就得到上面的"
                          "矩阵形式，转置也随之出现。",
        "reading_intro": "乘积 {product}，其中 {a} 为 {ashape}，{b} 为 {bshape}：",
        "reading_numbers": "代入数值，元素 (1, 1)：",
        "reading_fanout": "{name} 还在别处被使用：这里只是经由 {product} 传回的那部分梯度，其余部分与之相加。",
        "identities": "输出层的捷径",
        "softmax_ce_matrix": "{p} 是 {z}{rows}的 softmax，{output} 是它对 {y} 的交叉熵{scaled}。"
                             "经过对数、与 {y} 的乘积以及 softmax 的雅可比矩阵，logits 处的梯度化简为",
        "sigmoid_bce_matrix": "{p} 是 {z} 的 sigmoid，{output} 是它对 {y} 的二元交叉熵{scaled}。"
                              "经过两个对数和 sigmoid 的局部导数，{z} 处的梯度化简为",
        "scaled_by": "，再乘以 {coefficient}",
        "row_by_row": " 逐行",
        "identity_agrees": "这正是上面反向传播得到的 {bar}。",
        "identity_rows_assumed": "这里假设 {y} 的每一行之和为 1（one-hot 标签即如此）。",
        "softmax_ce_not_rows": "{p} 是 {z}{rows}的 softmax，{output} 是它对 {y} 的交叉熵{scaled}。{y} 的各行之和"
                               "并不都为 1，而 P − Y 的捷径需要这一点，因此在此不适用：梯度以上面的反向传播为准。",
        "identity_why_softmax": "原因：逐元素写出，用 softmax 的局部偏导数，并利用目标的每一行之和为 1：",
        "identity_why_sigmoid": "原因：用 sigmoid 的局部导数，逐元素写出：",
        "delta_form": "$\\delta$ 形式的反向传播",
        "delta_intro": "在网络中逐条路径应用链式法则，会一再重复相同的因子（仅 {name} 就有 {count} 条路径）。"
                       "教材（Nielsen、Mazur）的做法是给第 l 层的每个单元 j 定义误差信号，即其预激活值处的梯度 "
                       "{delta}：从输出层往下，每个单元只算一次，再由它读出每个权重和偏置的梯度。"
                       "数值与上面的反向传播相同。",
        "delta_intro_short": "教材（Nielsen、Mazur）给第 l 层的每个单元 j 定义误差信号，即其预激活值处的梯度 "
                             "{delta}：从输出层往下，每个单元只算一次，再由它读出每个权重和偏置的梯度。"
                             "数值与上面的反向传播相同。",
        "delta_output_layer": "输出层 {layer}",
        "delta_loss": "图中经由生成的节点 {nodes} 计算损失；写成一个公式即",
        "delta_loss_direct": "损失为",
        "delta_targets": "其中目标值为 {targets}。",
        "delta_output_grad": "对每个输出求偏导，得到输出处的梯度：",
        "delta_output": "每个输出单元的误差信号等于其激活函数的斜率乘以该梯度：",
        "delta_output_linear": "输出层是线性的（a = z），因此每个单元的误差信号就是该梯度：",
        "delta_softmax_ce": "softmax 之后接交叉熵：经过指数、求和与除法，每个预激活值处的梯度化简为概率减去目标值"
                            "（目标值之和为 1）：",
        "delta_softmax_ce_sum": "softmax 之后接交叉熵：经过指数、求和与除法，每个预激活值处的梯度化简为概率乘以"
                                "目标值之和（此处为 {total}，不是 1）再减去目标值：",
        "delta_sigmoid_bce": "sigmoid 之后接二元交叉熵：sigmoid 的斜率 a(1 − a) 与损失的分母相消，"
                             "因此误差信号等于输出减去目标值：",
        "delta_softmax": "softmax 把各输出单元混合在一起，因此每个误差信号经由其雅可比矩阵汇集所有输出的梯度：",
        "delta_unknown": "每个输出处的梯度（取自上面的反向传播）：",
        "delta_hidden_layer": "层 {layer}",
        "delta_hidden": "{layer} 的每个单元都连到 {above} 的每个单元，因此它的误差信号经由相连的权重汇集上一层的"
                        "误差信号，再乘以其激活函数的斜率：",
        "delta_hidden_linear": "{layer} 的每个单元都连到 {above} 的每个单元，且该层是线性的（a = z），"
                               "因此它的误差信号经由相连的权重汇集上一层的误差信号：",
        "delta_zero_terms": "有 {count} 项含因子 0（权重为 0，或上一层单元的 $\\delta$ 为 0），对和没有贡献，已略去。",
        "delta_inactive": "在 {units} 处斜率为 0：这些单元未被激活，$\\delta$ 为 0，梯度不经过它们传回。",
        "delta_params": "权重与偏置",
        "delta_params_intro": "权重乘以其单元的一个输入，因此它的梯度等于该单元的 $\\delta$ 乘以这个输入；偏置的梯度等于"
                              "其单元的 $\\delta$，整层共享的偏置则汇集该层所有单元的 $\\delta$。第一层的输入就是网络的输入。",
        "delta_params_layer": "层 {layer}：",
        "delta_zero_unit": "误差信号为 0（{units}）：这些单元的每个权重和偏置的梯度都是 0，不再列出。",
        "delta_inputs_heading": "输入",
        "delta_inputs": "每个输入都连到第一层的每个单元，因此它的梯度经由各自的权重汇集这些单元的误差信号：",
        "delta_checked": "sympy 独立地对 {output} 的整个表达式求偏导：结果与上面每个梯度一致。",
        "delta_check_failed": "sympy 求得的偏导数与 {names} 的结果不一致，请报告此问题。",
        "steps_title": "{output} 的反向传播：逐步演示",
        "steps_forward": "前向计算",
        "steps_seed": "起点",
        "steps_backward": "反向传播",
        "steps_counter": "第 {n} 步，共 {total} 步",
        "steps_first": "第一步",
        "steps_prev": "上一步",
        "steps_next": "下一步",
        "steps_last": "最后一步",
        "steps_play": "播放",
        "steps_pause": "暂停",
        "steps_speed": "速度",
        "steps_slider": "步骤",
        "steps_keys": "按键：← 和 → 逐步前后，Home 和 End 跳到第一步和最后一步，空格键播放或暂停。",
        "steps_do_forward": "由 {inputs} 计算 {node}。",
        "steps_do_seed": "反向传播从输出开始：{output} 对自身的梯度为 1。",
        "steps_do_edge": "{head} 沿边 {tail} → {head} 把梯度传回 {tail}：上游梯度 × 局部偏导数。",
        "steps_do_share": "{head} 把它的一份传回 {tail}（第 {k} 份，共 {n} 份）：{tail} 连到 {n} 个节点，"
                          "它的梯度是这 {n} 份之和。",
        "steps_do_last": "{head} 传回 {tail} 的最后一份（共 {n} 份）：{tail} 的梯度已算完。",
    },
}

LANGUAGES = tuple(PROSE)


def prose(lang: str):
    """The prose table of ``lang`` as a function ``t(key, **fields)``."""
    if lang not in PROSE:
        raise UsageError(f"--lang must be one of {', '.join(LANGUAGES)}, not {lang!r}")
    table = PROSE[lang]

    def t(key: str, **fields) -> str:
        return table[key].format(**fields)
    return t
