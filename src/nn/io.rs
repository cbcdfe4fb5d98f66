//! Checkpoints: a network's parameters and batch-norm buffers as a safetensors file with
//! layer-qualified names (`conv1.weight`, `bn1.running_mean`), in PyTorch's shapes, so a
//! checkpoint can be inspected with standard tools. Written atomically (a temporary file in the
//! same directory, then a rename) so an interrupted save never leaves a half-written model.

use std::collections::HashMap;
use std::path::Path;

use dfdx::shapes::HasShape;

use super::backend::Backend;
use super::network::{Network, NnError};

fn ck_err(path: &Path, what: impl std::fmt::Display) -> NnError {
    NnError::Checkpoint(format!("{}: {what}", path.display()))
}

impl<D: Backend> Network<D> {
    /// Every tensor that a checkpoint holds: name, shape, values.
    fn state(&self) -> Vec<(String, Vec<usize>, Vec<f32>)> {
        let params = self
            .params
            .iter()
            .map(|p| (p.name.clone(), p.shape.clone(), p.t.as_vec()));
        let buffers = self
            .buffers
            .iter()
            .map(|b| (b.name.clone(), vec![b.t.shape().0], b.t.as_vec()));
        params.chain(buffers).collect()
    }

    /// Saves parameters and buffers to `path` (safetensors, f32, little-endian).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), NnError> {
        let path = path.as_ref();
        let state = self.state();
        let bytes: Vec<Vec<u8>> = state
            .iter()
            .map(|(_, _, v)| v.iter().flat_map(|x| x.to_le_bytes()).collect())
            .collect();
        let mut views = Vec::with_capacity(state.len());
        for ((name, shape, _), b) in state.iter().zip(&bytes) {
            let view =
                ::safetensors::tensor::TensorView::new(::safetensors::Dtype::F32, shape.clone(), b)
                    .map_err(|e| ck_err(path, format!("{e:?}")))?;
            views.push((name.clone(), view));
        }
        // One metadata entry only: safetensors writes a HashMap in its random order, and the
        // same weights must give the same bytes (lesson 4's checkpoint is checked byte for byte).
        let meta = HashMap::from([(
            "format".to_string(),
            format!("tutor-nn-1 ({})", self.spec().name),
        )]);
        let data = ::safetensors::tensor::serialize(views, &Some(meta))
            .map_err(|e| ck_err(path, format!("{e:?}")))?;
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
        let file_name = path
            .file_name()
            .ok_or_else(|| ck_err(path, "not a file path"))?
            .to_string_lossy();
        let tmp = match dir {
            Some(d) => d.join(format!(".{file_name}.tmp")),
            None => format!(".{file_name}.tmp").into(),
        };
        std::fs::write(&tmp, &data).map_err(|e| ck_err(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            ck_err(path, e)
        })
    }

    /// Loads parameters and buffers saved by [`Network::save`] from a network of the same
    /// architecture. Every tensor must be present with the right shape; nothing changes unless
    /// all of them are.
    pub fn load(&mut self, path: impl AsRef<Path>) -> Result<(), NnError> {
        self.load_where(path.as_ref(), |_| true, true).map(|_| ())
    }

    /// Loads the tensors of the layers `keep` accepts (by layer name) from a checkpoint of a
    /// network that shares those layers, and leaves the others as they are: a pretrained
    /// backbone under a new head. Tensors of other layers in the file are ignored. Returns the
    /// names loaded; nothing changes unless all of them could be.
    pub fn load_layers(
        &mut self,
        path: impl AsRef<Path>,
        keep: impl Fn(&str) -> bool,
    ) -> Result<Vec<String>, NnError> {
        self.load_where(path.as_ref(), keep, false)
    }

    fn load_where(
        &mut self,
        path: &Path,
        keep: impl Fn(&str) -> bool,
        exact: bool,
    ) -> Result<Vec<String>, NnError> {
        let data = crate::util::files::read(path).map_err(|e| ck_err(path, e))?;
        let st = ::safetensors::SafeTensors::deserialize(&data)
            .map_err(|e| ck_err(path, format!("not a safetensors file ({e:?})")))?;
        let mut updates = Vec::new();
        let state = self.state();
        for (name, shape, _) in &state {
            // Tensor names are `layer.what` (`weight`, `running_mean`, ...).
            let layer = name.rsplit_once('.').map_or(name.as_str(), |(l, _)| l);
            if !keep(layer) {
                continue;
            }
            let view = st.tensor(name).map_err(|_| {
                ck_err(
                    path,
                    format!("has no tensor \"{name}\" (is it a checkpoint of this network?)"),
                )
            })?;
            if view.dtype() != ::safetensors::Dtype::F32 {
                return Err(ck_err(
                    path,
                    format!("tensor \"{name}\" is {:?}, expected F32", view.dtype()),
                ));
            }
            if view.shape() != shape.as_slice() {
                return Err(ck_err(
                    path,
                    format!(
                        "tensor \"{name}\" has shape {:?} but the network expects {:?}",
                        view.shape(),
                        shape
                    ),
                ));
            }
            let values: Vec<f32> = view
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
                return Err(ck_err(
                    path,
                    format!("tensor \"{name}\" holds {bad}: the checkpoint is damaged (or was saved from a diverged run)"),
                ));
            }
            updates.push((name.clone(), values));
        }
        if exact {
            let known: Vec<&String> = state.iter().map(|(n, _, _)| n).collect();
            if let Some(extra) = st.names().into_iter().find(|n| !known.contains(n)) {
                return Err(ck_err(
                    path,
                    format!("holds tensor \"{extra}\", which this network does not have"),
                ));
            }
        }
        let mut loaded = Vec::with_capacity(updates.len());
        for (name, values) in updates {
            self.set_values(&name, &values)?;
            loaded.push(name);
        }
        Ok(loaded)
    }
}
