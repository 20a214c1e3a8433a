//! Export rows as an XLSX workbook with rust_xlsxwriter in its constant-memory mode: each row
//! goes to a temporary file as it is written, so memory stays flat however long the task; the
//! finished workbook is a temporary file that the answer streams.

use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};
use tasks::execution::export::Cell;

/// A workbook being written, one sheet.
pub struct Sheet {
    workbook: Workbook,
    next_row: u32,
    bold: Format,
}

impl Sheet {
    /// A workbook whose first row is `header`.
    pub fn new(header: &[&str]) -> Result<Self, XlsxError> {
        let mut workbook = Workbook::new();
        let bold = Format::new().set_bold();
        let sheet = workbook.add_worksheet_with_constant_memory()?;
        sheet.set_name("外呼结果")?;
        for (col, title) in header.iter().enumerate() {
            sheet.write_string_with_format(0, col as u16, *title, &bold)?;
        }
        Ok(Self {
            workbook,
            next_row: 1,
            bold,
        })
    }

    fn sheet(&mut self) -> Result<&mut Worksheet, XlsxError> {
        self.workbook.worksheet_from_index(0)
    }

    /// Append one row.
    pub fn row(&mut self, cells: &[Cell]) -> Result<(), XlsxError> {
        let row = self.next_row;
        let sheet = self.sheet()?;
        for (col, cell) in cells.iter().enumerate() {
            let col = col as u16;
            match cell {
                Cell::Text(t) => {
                    sheet.write_string(row, col, t)?;
                }
                // whole numbers of an export stay far below 2^53
                Cell::Number(n) => {
                    sheet.write_number(row, col, *n as f64)?;
                }
                Cell::Empty => {}
            }
        }
        self.next_row += 1;
        Ok(())
    }

    /// Write the finished workbook to `path`.
    pub fn save(mut self, path: &std::path::Path) -> Result<(), XlsxError> {
        let _ = &self.bold;
        self.workbook.save(path)
    }
}
